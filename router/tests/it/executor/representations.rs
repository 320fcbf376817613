//! Representations for entity fetches: an object whose concrete type an earlier fetch found
//! still matches a representation made for its `@interfaceObject` interface.

use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;

use super::{Answer, ask, scripted, start};

const A: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
type Query { users: [NodeWithName!]! }
interface NodeWithName @key(fields: "id") { id: ID! name: String }
type User implements NodeWithName @key(fields: "id") { id: ID! name: String age: Int }"#;

const B: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@interfaceObject", "@external", "@requires"])
type Query { anotherUsers: [NodeWithName] }
type NodeWithName @key(fields: "id") @interfaceObject { id: ID! name: String @external username: String @requires(fields: "name") }"#;

#[tokio::test]
async fn a_requirement_is_sent_for_objects_whose_concrete_type_is_known_by_then() {
    let (a, _) = scripted(|_, _| {
        Answer::json(json!({"data": {"_entities": [
            {"__typename": "User", "id": "u1", "name": "Ada"}
        ]}}))
    })
    .await;
    let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let seen = sent.clone();
    let (b, _) = scripted(move |_, body| {
        let body: Value = serde_json::from_str(body).expect("JSON");
        if body["query"]
            .as_str()
            .unwrap_or_default()
            .contains("_entities")
        {
            seen.lock()
                .expect("the log")
                .push(body["variables"].clone());
            Answer::json(json!({"data": {"_entities": [{"a0": "ada"}]}}))
        } else {
            Answer::json(json!({"data": {"anotherUsers": [
                {"__typename": "NodeWithName", "id": "u1"}
            ]}}))
        }
    })
    .await;
    let subgraph = |name: &str, url: String, sdl: &str| SubgraphSdl {
        name: name.to_owned(),
        url,
        sdl: sdl.to_owned(),
    };
    let supergraph = compose(&[subgraph("a", a, A), subgraph("b", b, B)]).expect("composes");
    let router = start(&supergraph, GatewayConfig::default()).await;
    // `... on User` makes the fetch from `a` learn the concrete type before `username`'s
    // representation (with the required `name`) is made for `b`.
    let (status, body) = ask(
        &router,
        "{ anotherUsers { id a0: username ... on User { id } } }",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"anotherUsers": [{"id": "u1", "a0": "ada"}]}})
    );
    let sent = sent.lock().expect("the log").clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let representations = sent[0]
        .as_object()
        .and_then(|v| v.values().find(|v| v.is_array()))
        .cloned();
    assert_eq!(
        representations,
        Some(json!([{"__typename": "NodeWithName", "id": "u1", "name": "Ada"}]))
    );
    router.shutdown().await;
}
