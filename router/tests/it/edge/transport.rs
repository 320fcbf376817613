//! CSRF prevention, CORS, and the overall and per-subgraph timeouts.

use std::time::Duration;

use serde_json::Value;

use super::{post, router};

#[tokio::test]
async fn refuses_simple_cross_site_requests_unless_they_carry_a_preflight_header() {
    let (router, subgraph) = router("{}").await;
    let url = format!("{}/graphql?query=%7Bpublic%7D", router.url());
    let http = reqwest::Client::new();

    // A GET a page of another site could make with an <img> or a link.
    let response = http.get(&url).send().await.expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["errors"][0]["extensions"]["code"], "CSRF_PREVENTED");

    // The same with a header only a preflighted request can have.
    let response = http
        .get(&url)
        .header("x-tessera-csrf", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    let response = http
        .get(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(subgraph.count(), 2);

    // A text POST is simple too; it is refused for its media type before anything runs.
    let response = http
        .post(format!("{}/graphql", router.url()))
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ public }"}"#)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(subgraph.count(), 2);

    let (open, _) = super::router("csrf:\n  enabled: false\n").await;
    let response = http
        .get(format!("{}/graphql?query=%7Bpublic%7D", open.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn answers_preflights_and_marks_responses_for_allowed_origins_only() {
    let (router, _) = router(
        "cors:\n  allow_origins: [\"https://app.example.com\"]\n  allow_credentials: true\n",
    )
    .await;
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", router.url());
    let preflight = |origin: &'static str, method: &'static str| {
        http.request(reqwest::Method::OPTIONS, &graphql)
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };

    let response = preflight("https://app.example.com", "POST")
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 204);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert!(
        headers["access-control-allow-methods"]
            .to_str()
            .expect("text")
            .contains("POST")
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .expect("text")
            .contains("authorization")
    );

    let response = preflight("https://evil.example.com", "POST")
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let response = preflight("https://app.example.com", "DELETE")
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 403);

    let answer = post(
        &router,
        "{ public }",
        &[("origin", "https://app.example.com")],
    )
    .await;
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert!(
        answer.headers["access-control-expose-headers"]
            .to_str()
            .expect("text")
            .contains("retry-after")
    );
    let answer = post(
        &router,
        "{ public }",
        &[("origin", "https://evil.example.com")],
    )
    .await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());
}

#[test]
fn refuses_any_origin_with_credentials() {
    let error = tessera_router::config::GatewayConfig::parse(
        "cors:\n  allow_origins: [\"*\"]\n  allow_credentials: true\n",
    )
    .expect_err("invalid");
    assert!(
        format!("{error:#}").contains("allow_credentials"),
        "{error:#}"
    );
}

#[tokio::test]
async fn answers_a_slow_request_with_a_timeout_and_a_slow_subgraph_with_an_error() {
    let (router, subgraph) = router("traffic:\n  timeout_ms: 300\n").await;
    *subgraph.delay.lock().expect("lock") = Duration::from_secs(3);
    let started = std::time::Instant::now();
    let answer = post(&router, "{ public }", &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (504, "REQUEST_TIMEOUT"),
        "{}",
        answer.body
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // A subgraph slower than its own timeout fails alone: partial data, an error for it.
    let (slow_router, subgraph) =
        super::router("subgraphs:\n  main:\n    url: SUBGRAPH_URL\n    timeout_ms: 200\n").await;
    *subgraph.delay.lock().expect("lock") = Duration::from_secs(3);
    let answer = post(&slow_router, "{ public }", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["public"], Value::Null);
    assert_eq!(answer.code(), "SUBGRAPH_REQUEST_FAILED", "{}", answer.body);
}

#[test]
fn the_checked_in_configurations_and_the_documented_reference_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../gateway-config");
    for file in ["dev.yaml", "production.yaml"] {
        tessera_router::config::GatewayConfig::load(&dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e:#}"));
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let reference = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block");
    tessera_router::config::GatewayConfig::parse(reference)
        .unwrap_or_else(|e| panic!("the reference in gateway-config/README.md: {e:#}"));
}
