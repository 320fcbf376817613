//! The client's names and the planner's own never meet: a client alias named like a key field,
//! like `__typename` or like the planner's aliases, and a client variable named
//! `$representations`, get the data the client asked for, send subgraphs the right entity
//! keys, and error paths name only the client's keys.
//!
//! The subgraphs are scripted: each answers the operation it receives from fixed data, aliases
//! and fragments included, as a GraphQL server would (and refuses two fields under one
//! response key, as validation would), and records every request.

use std::sync::{Arc, Mutex};

use async_graphql_parser::types::{Selection, SelectionSet};
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Map, Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

const ACCOUNTS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@shareable"])
type Query { me: User user(id: ID!): User things: [Thing!]! }
type User @key(fields: "id") { id: ID! displayName: String! }
union Thing = Book | Film
type Book { code: String! @shareable }
type Film { code: String }"#;

const POSTS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type User @key(fields: "id") { id: ID! posts(first: Int): [Post] }
type Post { title: String! }"#;

/// Declares `Book.code` nullable, so the supergraph's is too, while `accounts` has it non-null
/// beside the nullable `Film.code`: one subgraph operation cannot select both under `code`.
const CATALOG: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@shareable"])
type Query { book: Book }
type Book { code: String @shareable }"#;

/// A scripted subgraph: `root` answers root fields, `entities` answer `_entities` by
/// `__typename` and `id`. A value `"!error"` is answered null with an error at its path.
#[derive(Clone)]
struct Scripted {
    root: Arc<Value>,
    entities: Arc<Vec<Value>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

impl Scripted {
    fn new(root: Value, entities: Vec<Value>) -> Self {
        Self {
            root: Arc::new(root),
            entities: Arc::new(entities),
            requests: Arc::default(),
        }
    }

    fn requests(&self) -> Vec<Value> {
        self.requests.lock().expect("lock").clone()
    }

    async fn serve(&self) -> String {
        crate::serve(
            Router::new()
                .route("/graphql", post(answer))
                .with_state(self.clone()),
        )
        .await
    }
}

async fn answer(
    State(subgraph): State<Scripted>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    subgraph.requests.lock().expect("lock").push(body.clone());
    let query = body["query"].as_str().unwrap_or_default();
    let document = async_graphql_parser::parse_query(query).expect("the router sends GraphQL");
    let (_, operation) = document.operations.iter().next().expect("one operation");
    let mut run = Run {
        subgraph: &subgraph,
        variables: &body["variables"],
        path: Vec::new(),
        errors: Vec::new(),
    };
    let data = run.object(&operation.node.selection_set.node, &subgraph.root);
    let mut response = json!({ "data": data });
    if !run.errors.is_empty() {
        response["errors"] = Value::Array(run.errors);
    }
    axum::Json(response)
}

struct Run<'a> {
    subgraph: &'a Scripted,
    variables: &'a Value,
    path: Vec<Value>,
    errors: Vec<Value>,
}

impl Run<'_> {
    fn object(&mut self, set: &SelectionSet, object: &Value) -> Value {
        let mut out = Map::new();
        let mut names: Vec<(String, String)> = Vec::new();
        self.fields(set, object, &mut out, &mut names);
        Value::Object(out)
    }

    fn fields(
        &mut self,
        set: &SelectionSet,
        object: &Value,
        out: &mut Map<String, Value>,
        names: &mut Vec<(String, String)>,
    ) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let key = field.response_key().node.as_str();
                    match names.iter().find(|(k, _)| k == key) {
                        Some((_, existing)) if existing != name => {
                            self.errors.push(json!({
                                "message": format!("fields `{existing}` and `{name}` conflict under `{key}`"),
                            }));
                            continue;
                        }
                        Some(_) => {}
                        None => names.push((key.to_owned(), name.to_owned())),
                    }
                    self.path.push(json!(key));
                    let set = &field.selection_set.node;
                    let value = match name {
                        "__typename" => object["__typename"].clone(),
                        "_entities" => {
                            let representations = field
                                .get_argument("representations")
                                .map(|v| self.argument(&v.node.to_string()))
                                .unwrap_or_default();
                            let entities: Vec<Value> = representations
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|r| {
                                    self.subgraph
                                        .entities
                                        .iter()
                                        .find(|e| {
                                            e["__typename"] == r["__typename"] && e["id"] == r["id"]
                                        })
                                        .cloned()
                                        .unwrap_or(Value::Null)
                                })
                                .collect();
                            self.complete(set, &Value::Array(entities), None)
                        }
                        _ => {
                            let first = field
                                .get_argument("first")
                                .and_then(|v| self.argument(&v.node.to_string()).as_u64());
                            self.complete(set, &object[name], first)
                        }
                    };
                    self.path.pop();
                    out.insert(key.to_owned(), value);
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|on| object["__typename"] == on.node.on.node.as_str());
                    if applies {
                        self.fields(&fragment.selection_set.node, object, out, names);
                    }
                }
                Selection::FragmentSpread(_) => panic!("the router inlines fragments"),
            }
        }
    }

    /// An argument's value: a variable's, or a literal's.
    fn argument(&self, text: &str) -> Value {
        match text.strip_prefix('$') {
            Some(variable) => self.variables[variable].clone(),
            None => serde_json::from_str(text).unwrap_or_default(),
        }
    }

    fn complete(&mut self, set: &SelectionSet, value: &Value, first: Option<u64>) -> Value {
        match value {
            Value::String(s) if s == "!error" => {
                self.errors
                    .push(json!({ "message": "boom", "path": self.path.clone() }));
                Value::Null
            }
            Value::Array(items) => {
                let take = first.map_or(items.len(), |n| n as usize);
                let items = items.iter().take(take).enumerate().map(|(i, item)| {
                    self.path.push(json!(i));
                    let value = self.complete(set, item, None);
                    self.path.pop();
                    value
                });
                Value::Array(items.collect())
            }
            Value::Object(_) if !set.items.is_empty() => self.object(set, value),
            other => other.clone(),
        }
    }
}

const UUID: &str = "3f2b7c1e-0000-4000-8000-000000000001";

struct Setup {
    router: RouterServer,
    accounts: Scripted,
    posts: Scripted,
}

async fn setup() -> Setup {
    let user = json!({ "__typename": "User", "id": UUID, "displayName": "Ada" });
    let accounts = Scripted::new(
        json!({
            "me": user,
            "user": { "__typename": "User", "id": "u-2", "displayName": null },
            "things": [
                { "__typename": "Book", "code": "B-1" },
                { "__typename": "Film", "code": "!error" },
            ],
        }),
        vec![user.clone()],
    );
    let posts = Scripted::new(
        json!({}),
        vec![json!({
            "__typename": "User", "id": UUID,
            "posts": [{ "title": "First" }, { "title": "!error" }, { "title": "Third" }],
        })],
    );
    let catalog = Scripted::new(json!({}), Vec::new());
    let subgraph = |name: &str, url: String, sdl: &str| SubgraphSdl {
        name: name.to_owned(),
        url,
        sdl: sdl.to_owned(),
    };
    let supergraph = compose(&[
        subgraph("accounts", accounts.serve().await, ACCOUNTS),
        subgraph("posts", posts.serve().await, POSTS),
        subgraph("catalog", catalog.serve().await, CATALOG),
    ])
    .expect("composes");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = RouterServer::start(listener, &supergraph, GatewayConfig::default())
        .await
        .expect("router");
    Setup {
        router,
        accounts,
        posts,
    }
}

impl Setup {
    async fn post(&self, query: &str, variables: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.router.url()))
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("JSON")
    }

    /// The representations of every `_entities` request `posts` received.
    fn representations_sent(&self) -> Vec<Value> {
        self.posts
            .requests()
            .iter()
            .flat_map(|r| {
                let variables = r["variables"].as_object().cloned().unwrap_or_default();
                variables
                    .into_iter()
                    .filter(|(_, v)| v.as_array().is_some_and(|a| a[0]["__typename"].is_string()))
                    .map(|(_, v)| v)
            })
            .collect()
    }
}

fn first_titles(response: &Value) -> Vec<Value> {
    response["data"]["me"]["posts"]
        .as_array()
        .map(|posts| posts.iter().map(|p| p["title"].clone()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_client_alias_named_like_the_key_field_answers_the_aliased_field() {
    let setup = setup().await;
    for query in [
        "{ me { id: displayName posts(first: 1) { title } } }",
        "{ me { posts(first: 1) { title } id: displayName } }",
    ] {
        let response = setup.post(query, json!({})).await;
        assert_eq!(
            response["data"]["me"]["id"],
            json!("Ada"),
            "{query}: {response}"
        );
        assert_eq!(
            first_titles(&response),
            [json!("First")],
            "{query}: {response}"
        );
        assert!(response.get("errors").is_none(), "{query}: {response}");
    }
    assert_eq!(
        setup.representations_sent(),
        [
            json!([{ "__typename": "User", "id": UUID }]),
            json!([{ "__typename": "User", "id": UUID }]),
        ],
        "the key sent is the id, never the display name"
    );
    setup.router.shutdown().await;
}

#[tokio::test]
async fn client_aliases_shaped_like_internal_keys_answer_the_aliased_fields() {
    let setup = setup().await;
    let query = "{ me { __typename: displayName x__tessera_alias_1: id a__req_1234abcd: displayName \
                 _tessera_id: displayName typename: __typename posts(first: 1) { title } } }";
    let response = setup.post(query, json!({})).await;
    assert_eq!(
        response["data"]["me"],
        json!({
            "__typename": "Ada",
            "x__tessera_alias_1": UUID,
            "a__req_1234abcd": "Ada",
            "_tessera_id": "Ada",
            "typename": "User",
            "posts": [{ "title": "First" }],
        }),
        "{response}"
    );
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        setup.representations_sent(),
        [json!([{ "__typename": "User", "id": UUID }])]
    );
    let sent = setup.accounts.requests()[0]["query"].clone();
    let sent = sent.as_str().unwrap_or_default();
    for client_key in ["x__tessera_alias_1:", "a__req_1234abcd:", "__typename:"] {
        assert!(!sent.contains(client_key), "{sent}");
    }
    setup.router.shutdown().await;
}

#[tokio::test]
async fn a_client_variable_named_representations_keeps_its_value() {
    let setup = setup().await;
    let query = "query($representations: Int) { me { displayName posts(first: $representations) { title } } }";
    let response = setup.post(query, json!({ "representations": 1 })).await;
    assert_eq!(first_titles(&response), [json!("First")], "{response}");
    assert!(response.get("errors").is_none(), "{response}");
    let request = &setup.posts.requests()[0];
    let sent = request["query"].as_str().unwrap_or_default();
    assert!(
        sent.contains("$representations: Int") && sent.contains("$representations_1:[_Any!]!"),
        "{sent}"
    );
    assert_eq!(request["variables"]["representations"], json!(1));
    assert_eq!(
        request["variables"]["representations_1"],
        json!([{ "__typename": "User", "id": UUID }])
    );
    setup.router.shutdown().await;
}

#[tokio::test]
async fn subgraph_error_paths_name_the_clients_keys() {
    let setup = setup().await;
    // `user` is a root field too: the client's `user: me` is selected under a reserved key,
    // and the entity fetch for `writings` starts there.
    let query = "{ user: me { id: displayName writings: posts { title } } \
                 things { ... on Book { code } ... on Film { code } } }";
    let response = setup.post(query, json!({})).await;
    assert_eq!(response["data"]["user"]["id"], json!("Ada"), "{response}");
    assert_eq!(
        response["data"]["user"]["writings"],
        json!([{ "title": "First" }, null, { "title": "Third" }]),
        "{response}"
    );
    assert_eq!(
        response["data"]["things"],
        json!([{ "code": "B-1" }, { "code": null }]),
        "{response}"
    );
    let mut paths: Vec<Value> = response["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["path"].clone())
        .collect();
    paths.sort_by_key(Value::to_string);
    assert_eq!(
        paths,
        [
            json!(["things", 1, "code"]),
            json!(["user", "writings", 1, "title"])
        ],
        "{response}"
    );
    // The subgraphs saw the internal names the paths no longer show.
    let accounts = setup.accounts.requests()[0]["query"].clone();
    assert!(
        accounts.as_str().is_some_and(
            |q| q.contains("code__tessera_alias_1:code") && q.contains("_tessera_user:me")
        ),
        "{accounts}"
    );
    setup.router.shutdown().await;
}

#[tokio::test]
async fn the_routers_own_error_paths_name_the_clients_keys() {
    let setup = setup().await;
    // `me` and `id` are both reserved here; the subgraph answers `displayName` (non-null) with
    // a null and no error, so the null-propagation error is the router's own.
    let query = r#"{ me: user(id: "u-2") { id: displayName } }"#;
    let response = setup.post(query, json!({})).await;
    assert_eq!(response["data"], json!({ "me": null }), "{response}");
    let errors = response["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{response}");
    assert_eq!(errors[0]["path"], json!(["me", "id"]), "{response}");
    let sent = setup.accounts.requests()[0]["query"].clone();
    assert!(
        sent.as_str().is_some_and(
            |q| q.contains("_tessera_me:user") && q.contains("_tessera_id:displayName")
        ),
        "{sent}"
    );
    setup.router.shutdown().await;
}
