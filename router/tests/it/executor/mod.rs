//! The executor against a scripted subgraph: identical queries in flight share one subgraph
//! request, mutations never do, and a subgraph answering garbage gives a coded error.
//!
//! - [`dedupe`]: shared requests whose first caller goes away.
//! - [`coercion`]: built-in scalars checked in subgraph results.
//! - [`errors`]: which errors a response reports for nulls and failed fetches.
//! - [`scheduling`]: fetches that wait only for what they depend on.
//! - [`representations`]: entity representations for objects of a type found on the way.

mod coercion;
mod dedupe;
mod errors;
mod representations;
mod scheduling;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { slow: Int }
type Mutation { bump: Int }"#;

/// A subgraph that answers every request after a pause, with `body`, counting requests.
async fn subgraph(body: &'static str, count: Arc<AtomicUsize>) -> String {
    let app = Router::new().route(
        "/graphql",
        post(move || {
            let count = count.clone();
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(1000)).await;
                ([("content-type", "application/json")], body)
            }
        }),
    );
    crate::serve(app).await
}

async fn router(url: String, config: GatewayConfig) -> RouterServer {
    let supergraph = crate::compose_one("counter", &url, SDL);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    RouterServer::start(listener, &supergraph, config)
        .await
        .expect("router")
}

async fn send_all(url: &str, query: &str, n: usize) -> Vec<Value> {
    let http = reqwest::Client::new();
    let requests = (0..n).map(|_| {
        let http = http.clone();
        async move {
            http.post(format!("{url}/graphql"))
                .json(&json!({ "query": query }))
                .send()
                .await
                .expect("answer")
                .json::<Value>()
                .await
                .expect("JSON")
        }
    });
    futures::future::join_all(requests).await
}

#[tokio::test]
async fn identical_queries_in_flight_share_one_subgraph_request() {
    let count = Arc::new(AtomicUsize::new(0));
    let url = subgraph(r#"{"data":{"slow":7,"bump":1}}"#, count.clone()).await;
    let router = router(url, GatewayConfig::default()).await;
    let answers = send_all(&router.url(), "{ slow }", 8).await;
    assert!(
        answers.iter().all(|a| a["data"]["slow"] == json!(7)),
        "{answers:?}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "one request for eight identical queries"
    );

    count.store(0, Ordering::SeqCst);
    let answers = send_all(&router.url(), "mutation { bump }", 4).await;
    assert!(
        answers.iter().all(|a| a["data"]["bump"] == json!(1)),
        "{answers:?}"
    );
    assert_eq!(
        count.load(Ordering::SeqCst),
        4,
        "mutations are never shared"
    );
    router.shutdown().await;
}

#[tokio::test]
async fn without_dedupe_every_query_reaches_the_subgraph() {
    let count = Arc::new(AtomicUsize::new(0));
    let url = subgraph(r#"{"data":{"slow":7}}"#, count.clone()).await;
    let mut config = GatewayConfig::default();
    config.dedupe.subgraph_queries = false;
    let router = router(url, config).await;
    send_all(&router.url(), "{ slow }", 5).await;
    assert_eq!(count.load(Ordering::SeqCst), 5);
    router.shutdown().await;
}

#[tokio::test]
async fn a_subgraph_answering_garbage_gives_a_coded_error_and_null() {
    let count = Arc::new(AtomicUsize::new(0));
    let url = subgraph("<html>oops</html>", count).await;
    let router = router(url, GatewayConfig::default()).await;
    let answer = &send_all(&router.url(), "{ slow }", 1).await[0];
    assert_eq!(answer["data"], json!({ "slow": null }));
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("SUBGRAPH_RESPONSE_INVALID")
    );
    assert_eq!(
        answer["errors"][0]["extensions"]["service"],
        json!("counter")
    );
    router.shutdown().await;
}

#[tokio::test]
async fn speaks_h2c_to_a_subgraph_configured_for_it() {
    let count = Arc::new(AtomicUsize::new(0));
    let url = subgraph(r#"{"data":{"slow":7}}"#, count.clone()).await;
    let mut config = GatewayConfig::default();
    let mut subgraph = tessera_router::config::subgraphs::SubgraphConfig::new(url);
    subgraph.protocol = tessera_router::config::subgraphs::Protocol::H2c;
    config.subgraphs.0.insert("counter".to_owned(), subgraph);
    let router = router(String::from("http://unused.invalid/graphql"), config).await;
    let answer = &send_all(&router.url(), "{ slow }", 1).await[0];
    assert_eq!(answer["data"]["slow"], json!(7), "{answer}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
    router.shutdown().await;
}

#[tokio::test]
async fn introspection_and_the_playground_can_be_switched_off() {
    let count = Arc::new(AtomicUsize::new(0));
    let url = subgraph(r#"{"data":{"slow":7}}"#, count).await;
    let mut config = GatewayConfig::default();
    config.introspection.enabled = false;
    config.playground.enabled = false;
    let router = router(url, config).await;
    let answer = &send_all(&router.url(), "{ __schema { queryType { name } } }", 1).await[0];
    assert_eq!(
        answer["errors"][0]["extensions"]["code"],
        json!("INTROSPECTION_DISABLED")
    );
    assert!(answer.get("data").is_none(), "{answer}");
    let page = reqwest::get(format!("{}/", router.url()))
        .await
        .expect("answer");
    assert_eq!(page.status().as_u16(), 404);
    // Root `__typename` is not introspection of the schema; it still works.
    let answer = &send_all(&router.url(), "{ __typename }", 1).await[0];
    assert_eq!(answer["data"]["__typename"], json!("Query"));
    // Introspection the variables skip is not asked for.
    let skipped =
        "query($i: Boolean = false) { __schema @include(if: $i) { queryType { name } } slow }";
    let answer = &send_all(&router.url(), skipped, 1).await[0];
    assert_eq!(answer["data"], json!({ "slow": 7 }), "{answer}");
    router.shutdown().await;
}

#[tokio::test]
async fn refuses_a_supergraph_with_an_unsupported_join_version() {
    let supergraph = crate::compose_one("counter", "http://127.0.0.1:1/graphql", SDL)
        .replace("join/v0.3", "join/v0.9");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let Err(error) = RouterServer::start(listener, &supergraph, GatewayConfig::default()).await
    else {
        panic!("a join v0.9 supergraph must not load");
    };
    let message = format!("{error:#}");
    assert!(message.contains("join/v0.9"), "{message}");
}

/// What a scripted subgraph does with one request: wait, then answer with a status and body.
pub struct Answer {
    pub delay: Duration,
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// A 200 JSON answer with no wait.
    pub fn json(body: Value) -> Self {
        Self {
            delay: Duration::ZERO,
            status: 200,
            body: body.to_string(),
        }
    }
}

/// A subgraph answering request `n` (counted from 0) with `script(n, body)`.
pub async fn scripted(
    script: impl Fn(usize, &str) -> Answer + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let script = Arc::new(script);
    let calls = count.clone();
    let app = Router::new().route(
        "/graphql",
        post(move |body: String| {
            let answer = script(calls.fetch_add(1, Ordering::SeqCst), &body);
            async move {
                tokio::time::sleep(answer.delay).await;
                (
                    axum::http::StatusCode::from_u16(answer.status).expect("a status"),
                    [("content-type", "application/json")],
                    answer.body,
                )
            }
        }),
    );
    (crate::serve(app).await, count)
}

/// A router for `supergraph` with `config`.
pub async fn start(supergraph: &str, config: GatewayConfig) -> RouterServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    RouterServer::start(listener, supergraph, config)
        .await
        .expect("router")
}

/// Posts `query` to the router; its status and JSON body.
pub async fn ask(router: &RouterServer, query: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}
