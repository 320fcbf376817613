//! GraphQL over HTTP at a subgraph: request-level errors get a code and the right status;
//! health and metrics endpoints answer.

use serde_json::{Value, json};
use tessera_tests::TestPlatform;

async fn post_raw(p: &TestPlatform, body: &'static str, content_type: &str) -> (u16, Value) {
    let r = p
        .http
        .post(p.url("identity", "/graphql"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("answer");
    (
        r.status().as_u16(),
        r.json().await.expect("JSON error body"),
    )
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn malformed_requests_get_codes_and_statuses() {
    let p = TestPlatform::start().await.expect("platform");
    let (status, body) = post_raw(&p, "{not json", "application/json").await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = post_raw(&p, r#"{"variables":{}}"#, "application/json").await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = post_raw(&p, r#"{"query":"{ me { id } }"}"#, "text/plain").await;
    assert_eq!((status, code(&body)), (415, "UNSUPPORTED_MEDIA_TYPE"));

    let parse = p.query("identity", "{ me { id ", None).await;
    assert_eq!(parse.code(), Some("GRAPHQL_PARSE_FAILED"));
    let unknown = p.query("identity", "{ me { id shoeSize } }", None).await;
    assert_eq!(unknown.code(), Some("GRAPHQL_VALIDATION_FAILED"));
    assert!(unknown.body["errors"][0]["locations"].is_array());
    let wrong_type = p
        .gql(
            "identity",
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": { "no": 1 } }),
            None,
        )
        .await;
    assert_eq!(
        wrong_type.code(),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{}",
        wrong_type.body
    );
    let not_a_uuid = p
        .gql(
            "identity",
            "query($id: ID!) { user(id: $id) { id } }",
            json!({ "id": "42" }),
            None,
        )
        .await;
    assert_eq!(not_a_uuid.code(), Some("BAD_USER_INPUT"));
    p.shutdown().await;
}

#[tokio::test]
async fn graphql_response_media_type_turns_request_errors_into_400() {
    let p = TestPlatform::start().await.expect("platform");
    let r = p
        .http
        .post(p.url("identity", "/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ nope }" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["content-type"],
        "application/graphql-response+json"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_413() {
    let p = TestPlatform::start().await.expect("platform");
    let query = format!("{{ me {{ id }} }} # {}", "x".repeat(2 * 1024 * 1024));
    let r = p
        .http
        .post(p.url("identity", "/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(code(&body), "PAYLOAD_TOO_LARGE");
    p.shutdown().await;
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let p = TestPlatform::start().await.expect("platform");
    let r = p
        .http
        .get(p.url("identity", "/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["data"]["__typename"], "Query");

    let r = p
        .http
        .get(p.url("identity", "/graphql"))
        .query(&[("query", "mutation { requestEmailVerification }")])
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status(), 405);
    p.shutdown().await;
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let p = TestPlatform::start().await.expect("platform");
    for service in ["auth", "identity"] {
        let live = p
            .http
            .get(p.url(service, "/health/live"))
            .send()
            .await
            .expect("live");
        assert_eq!(live.status(), 200);
        let ready: Value = p
            .http
            .get(p.url(service, "/health/ready"))
            .send()
            .await
            .expect("ready")
            .json()
            .await
            .expect("JSON");
        assert_eq!(ready["status"], "ok", "{ready}");
        assert_eq!(ready["checks"]["database"], "ok");
    }
    p.query("identity", "{ __typename }", None).await.ok();
    let metrics = p.metrics("identity").await;
    assert!(metrics.contains("tessera_http_requests_total"), "{metrics}");
    assert!(metrics.contains("service=\"identity\""));
    p.shutdown().await;
}

#[tokio::test]
async fn the_sdl_declares_federation_v2_and_the_user_entity() {
    let p = TestPlatform::start().await.expect("platform");
    let identity = p.query("identity", "{ _service { sdl } }", None).await.ok();
    let sdl = identity.data("_service.sdl").as_str().expect("sdl");
    assert!(sdl.contains("extend schema @link("), "{sdl}");
    assert!(
        sdl.contains("url: \"https://specs.apollo.dev/federation/v2."),
        "{sdl}"
    );
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    let auth = p.query("auth", "{ _service { sdl } }", None).await.ok();
    let sdl = auth.data("_service.sdl").as_str().expect("sdl");
    assert!(sdl.contains("resolvable: false"), "{sdl}");
    p.shutdown().await;
}
