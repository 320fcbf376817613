//! What the router answers to standard GraphQL tooling: the full graphql-js introspection
//! query, the OneOf input object rules, and exactly one error per mistake.
//!
//! Requests go through the router's request lifecycle in process; the one subgraph is scripted
//! and counts what reaches it, so a refused request can be shown to have reached nothing.

mod errors;
mod introspection;
mod one_of;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use http::{HeaderMap, HeaderValue, Method, header};
use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;
use tessera_router::pipeline::{self, Engine, HttpRequest};

/// A subgraph with a OneOf input object, used as an argument, inside another input object
/// and in a list. It declares `@oneOf` itself, as async-graphql's SDL does.
const USERS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
directive @oneOf on INPUT_OBJECT
type Query {
  user(by: UserBy!): User
  users(filter: Filter): [User]
  me: User
}
type User @key(fields: "id") { id: ID! email: String name: String friends(first: Int): [User] }
"How to find one user: by exactly one of these."
input UserBy @oneOf { id: ID email: String }
input Filter { name: String by: UserBy any: [UserBy!] }"#;

/// The router in process, and how many requests reached its subgraph.
pub(crate) struct Harness {
    pub engine: Engine,
    pub fetches: Arc<AtomicUsize>,
}

impl Harness {
    /// The router on the supergraph composed from [`USERS`]; its subgraph answers every fetch
    /// with a user.
    pub async fn one_of() -> Self {
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = Router::new().route(
            "/graphql",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async {
                    (
                        [("content-type", "application/json")],
                        r#"{"data":{"user":{"id":"1","name":"Ada"},"users":[],"me":null}}"#,
                    )
                }
            }),
        );
        let url = crate::serve(app).await;
        let supergraph = crate::compose_one("users", &url, USERS);
        Self::on(&supergraph, fetches)
    }

    /// The router on the platform's own supergraph; nothing answers its subgraph URLs.
    pub fn platform() -> Self {
        let sdl = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/supergraph.graphql"
        ))
        .expect("the checked-in supergraph");
        Self::on(&sdl, Arc::default())
    }

    fn on(supergraph: &str, fetches: Arc<AtomicUsize>) -> Self {
        let engine =
            Engine::new(supergraph, GatewayConfig::default()).expect("the router loads it");
        Self { engine, fetches }
    }

    /// POSTs `{query, variables}` and returns the response body.
    pub async fn post(&self, query: &str, variables: Value) -> Value {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let body =
            serde_json::to_vec(&json!({ "query": query, "variables": variables })).expect("JSON");
        let response = pipeline::run(
            &self.engine,
            HttpRequest {
                method: &Method::POST,
                headers: &headers,
                query_string: None,
                body: &body,
                remote: None,
            },
            tokio::time::Instant::now(),
        )
        .await;
        serde_json::from_slice(&response.body).expect("a JSON response")
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// One error of a response: its code, message and first location (line, column).
pub(crate) type Reported = (String, String, Option<(u64, u64)>);

/// The error a test expects.
pub(crate) fn error(code: &str, message: &str, line: u64, column: u64) -> Reported {
    (code.to_owned(), message.to_owned(), Some((line, column)))
}

/// The `errors` of a response.
pub(crate) fn errors(response: &Value) -> Vec<Reported> {
    response["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    let location = e["locations"][0].as_object().map(|l| {
                        (
                            l["line"].as_u64().unwrap_or(0),
                            l["column"].as_u64().unwrap_or(0),
                        )
                    });
                    (
                        e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                        e["message"].as_str().unwrap_or("").to_owned(),
                        location,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
