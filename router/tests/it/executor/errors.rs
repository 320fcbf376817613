//! Which errors a response reports: every null the router finds is reported unless an error
//! at or below its position explains it.

use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;

use super::{Answer, ask, scripted, start};

const USERS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { user: User other: Int me: User! }
type User @key(fields: "id") { id: ID! name: String! }"#;

/// The router's answer to `query` when the one subgraph answers `response`.
async fn answer(response: Value, query: &str) -> Value {
    let (url, _) = scripted(move |_, _| Answer::json(response.clone())).await;
    let router = start(
        &crate::compose_one("users", &url, USERS),
        GatewayConfig::default(),
    )
    .await;
    let (_, answer) = ask(&router, query).await;
    router.shutdown().await;
    answer
}

fn subgraph_error(message: &str, path: Option<Value>) -> Value {
    let mut error = json!({ "message": message, "extensions": { "service": "users" } });
    if let Some(path) = path {
        error["path"] = path;
    }
    error
}

fn non_null(field: &str, path: Value) -> Value {
    json!({ "message": format!("Cannot return null for non-nullable field {field}"), "path": path })
}

#[tokio::test]
async fn a_null_is_reported_even_when_the_subgraph_erred_elsewhere() {
    let response = json!({
        "data": { "user": { "id": "1", "name": null }, "other": null },
        "errors": [{ "message": "other failed", "path": ["other"] }]
    });
    let answer = answer(response, "{ user { id name } other }").await;
    assert_eq!(
        answer,
        json!({
            "data": { "user": null, "other": null },
            "errors": [
                subgraph_error("other failed", Some(json!(["other"]))),
                non_null("User.name", json!(["user", "name"])),
            ]
        })
    );
}

#[tokio::test]
async fn an_error_at_the_null_or_below_it_explains_it() {
    // At the position itself.
    let response = json!({
        "data": { "user": { "id": "1", "name": null } },
        "errors": [{ "message": "no name", "path": ["user", "name"] }]
    });
    let at = answer(response, "{ user { id name } }").await;
    assert_eq!(
        at,
        json!({
            "data": { "user": null },
            "errors": [subgraph_error("no name", Some(json!(["user", "name"])))]
        })
    );
    // Below it: the subgraph propagated the null up to `me` itself.
    let response = json!({
        "data": { "me": null },
        "errors": [{ "message": "no name", "path": ["me", "name"] }]
    });
    let below = answer(response, "{ me { id name } }").await;
    assert_eq!(
        below,
        json!({
            "data": null,
            "errors": [subgraph_error("no name", Some(json!(["me", "name"])))]
        })
    );
}

#[tokio::test]
async fn an_error_without_a_path_or_above_the_null_explains_nothing() {
    let response = json!({
        "data": { "user": { "id": "1", "name": null } },
        "errors": [
            { "message": "something went wrong" },
            { "message": "above", "path": ["user"] }
        ]
    });
    let answer = answer(response, "{ user { id name } }").await;
    assert_eq!(
        answer,
        json!({
            "data": { "user": null },
            "errors": [
                subgraph_error("something went wrong", None),
                subgraph_error("above", Some(json!(["user"]))),
                non_null("User.name", json!(["user", "name"])),
            ]
        })
    );
}
