//! Built-in scalars in subgraph results are checked like GraphQL execution checks them: a
//! value of the wrong kind is a field error at its path and null there, propagated like any
//! null; custom scalars pass through.

use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;

use super::{Answer, ask, scripted, start};

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
scalar JSON
type Query {
  int: Int
  float: Float
  string: String
  boolean: Boolean
  id: ID
  custom: JSON
  ints: [Int!]
  box: Box
  boxes: [Box]
}
type Box { n: Int! label: String }"#;

/// The router's answer to `query` when the subgraph returns `data`.
async fn shaped(data: Value, query: &str) -> Value {
    let (url, _) = scripted(move |_, _| Answer::json(json!({ "data": data.clone() }))).await;
    let router = start(
        &crate::compose_one("scalars", &url, SDL),
        GatewayConfig::default(),
    )
    .await;
    let (status, answer) = ask(&router, query).await;
    assert_eq!(status, 200, "{answer}");
    router.shutdown().await;
    answer
}

fn error(message: &str, path: Value) -> Value {
    json!({ "message": message, "path": path, "extensions": { "code": "RESPONSE_VALIDATION_FAILED" } })
}

#[tokio::test]
async fn values_of_the_right_kind_pass() {
    let data = json!({
        "int": -2147483648, "float": 2, "string": "s", "boolean": false, "id": 12,
        "custom": { "any": ["json", 1] }, "ints": [1, 2.0], "box": { "n": 2147483647 }
    });
    let answer = shaped(
        data,
        "{ int float string boolean id custom ints box { n } }",
    )
    .await;
    assert_eq!(
        answer,
        json!({ "data": {
            "int": -2147483648, "float": 2, "string": "s", "boolean": false, "id": 12,
            "custom": { "any": ["json", 1] }, "ints": [1, 2], "box": { "n": 2147483647 }
        } })
    );
}

#[tokio::test]
async fn values_of_the_wrong_kind_are_field_errors_and_null() {
    let data = json!({
        "int": "7", "float": "1.5", "string": { "a": 1 }, "boolean": 1, "id": [1],
        "custom": "fine", "ints": [1, 1099511627776_i64],
        "box": { "n": 1.5, "label": "x" },
        "boxes": [{ "n": 1, "label": true }, { "n": true }]
    });
    let answer = shaped(
        data,
        "{ int float string boolean id custom ints box { n label } boxes { n label } }",
    )
    .await;
    assert_eq!(
        answer["data"],
        json!({
            "int": null, "float": null, "string": null, "boolean": null, "id": null,
            "custom": "fine", "ints": null, "box": null,
            "boxes": [{ "n": 1, "label": null }, null]
        })
    );
    assert_eq!(
        answer["errors"],
        json!([
            error(
                r#"Int cannot represent non-integer value: "7""#,
                json!(["int"])
            ),
            error(
                r#"Float cannot represent non numeric value: "1.5""#,
                json!(["float"])
            ),
            error(
                r#"String cannot represent value: {"a":1}"#,
                json!(["string"])
            ),
            error(
                "Boolean cannot represent a non boolean value: 1",
                json!(["boolean"])
            ),
            error("ID cannot represent value: [1]", json!(["id"])),
            error(
                "Int cannot represent non 32-bit signed integer value: 1099511627776",
                json!(["ints", 1])
            ),
            error(
                "Int cannot represent non-integer value: 1.5",
                json!(["box", "n"])
            ),
            error(
                "String cannot represent value: true",
                json!(["boxes", 0, "label"])
            ),
            error(
                "Int cannot represent non-integer value: true",
                json!(["boxes", 1, "n"])
            ),
        ])
    );
}

#[tokio::test]
async fn a_wrong_value_in_a_non_null_root_position_nulls_data() {
    const NON_NULL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { count: Int! }"#;
    let (url, _) = scripted(|_, _| Answer::json(json!({ "data": { "count": { "n": 1 } } }))).await;
    let router = start(
        &crate::compose_one("counts", &url, NON_NULL),
        GatewayConfig::default(),
    )
    .await;
    let (_, answer) = ask(&router, "{ count }").await;
    assert_eq!(
        answer,
        json!({
            "data": null,
            "errors": [error(r#"Int cannot represent non-integer value: {"n":1}"#, json!(["count"]))]
        })
    );
    router.shutdown().await;
}
