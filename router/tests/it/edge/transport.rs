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
async fn a_token_or_a_preflight_header_lets_a_request_through_csrf_prevention() {
    let (router, subgraph) = router("{}").await;
    let get = format!("{}/graphql?query=%7Bpublic%7D", router.url());
    let http = reqwest::Client::new();
    let status = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        (status, body["errors"][0]["extensions"]["code"].clone())
    };
    let refused = (400, Value::from("CSRF_PREVENTED"));
    let passed = (200, Value::Null);

    // urql's default GET: an Accept of several media types and nothing a preflight needs.
    let accept = "application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed";
    assert_eq!(
        status(http.get(&get).header("accept", accept)).await,
        refused
    );
    // The same with a bearer token: a page can add Authorization only after a preflight.
    assert_eq!(
        status(
            http.get(&get)
                .header("accept", accept)
                .header("authorization", "Bearer abc")
        )
        .await,
        passed
    );
    // Credentials a browser attaches by itself prove nothing.
    assert_eq!(
        status(http.get(&get).header("authorization", "Basic dXNlcjpwYXNz")).await,
        refused
    );
    // Headers proxies and browsers add to simple requests prove nothing either.
    assert_eq!(
        status(
            http.get(&get)
                .header("x-forwarded-for", "10.0.0.1")
                .header("x-request-id", "r1")
                .header(
                    "traceparent",
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
                )
        )
        .await,
        refused
    );
    // The preflight headers Apollo's and other clients send.
    for header in [
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "graphql-preflight",
        "x-tessera-csrf",
    ] {
        assert_eq!(
            status(http.get(&get).header(header, "1")).await,
            passed,
            "{header}"
        );
    }

    // POST: a JSON body passes with or without a token; a simple content type is refused,
    // also when it carries a token (for its media type, before anything runs).
    let post = format!("{}/graphql", router.url());
    let body = r#"{"query":"{ public }"}"#;
    for token in [None, Some("Bearer abc")] {
        let mut json = http
            .post(&post)
            .header("content-type", "application/json")
            .body(body);
        let mut text = http
            .post(&post)
            .header("content-type", "text/plain")
            .body(body);
        if let Some(token) = token {
            json = json.header("authorization", token);
            text = text.header("authorization", token);
        }
        assert_eq!(status(json).await, passed, "{token:?}");
        assert_eq!(
            status(text).await,
            (415, Value::from("UNSUPPORTED_MEDIA_TYPE")),
            "{token:?}"
        );
    }
    assert_eq!(
        subgraph.count(),
        1 + 4 + 2,
        "only what passed reached the subgraph"
    );
}

#[tokio::test]
async fn csrf_prevention_can_count_only_the_configured_headers() {
    // A proxy that adds Authorization from a cookie: tokens prove nothing then.
    let (router, _) =
        router("csrf:\n  token_headers: false\n  required_headers: [x-my-app]\n").await;
    let get = format!("{}/graphql?query=%7Bpublic%7D", router.url());
    let http = reqwest::Client::new();
    let response = http
        .get(&get)
        .header("authorization", "Bearer abc")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.ends_with("x-my-app"), "{message}");
    let response = http
        .get(&get)
        .header("x-my-app", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn the_configured_token_header_counts_as_a_preflight_header() {
    let key = super::Key::new("k1", 3);
    let jwks = super::jwks_file(&[&key]);
    let config = super::jwt_config(jwks.path(), "    header: { name: x-token, prefix: \"\" }\n");
    let (router, _) = router(&config).await;
    let response = reqwest::Client::new()
        .get(format!("{}/graphql?query=%7Bpublic%7D", router.url()))
        .header("x-token", key.sign(&super::claims("ann", "")))
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
    let response = preflight("https://app.example.com", "PATCH")
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
    // Data beside errors: a partial success.
    assert_eq!(answer.status, 294, "{}", answer.body);
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
    // What the folder's README says of production.yaml.
    let production = tessera_router::config::GatewayConfig::load(&dir.join("production.yaml"))
        .expect("production.yaml");
    assert_eq!(production.mode, tessera_router::config::Mode::Production);
    assert!(!production.introspection.enabled && !production.playground.enabled);
    assert!(!production.query_plan.expose);
    assert!(
        production
            .authentication
            .jwt
            .as_ref()
            .is_some_and(|j| j.required)
    );
    assert_eq!(
        production.rate_limits.on_store_failure,
        tessera_router::config::rate_limit::StoreFailurePolicy::Closed
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).expect("README");
    let reference = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block");
    tessera_router::config::GatewayConfig::parse(reference)
        .unwrap_or_else(|e| panic!("the reference in gateway-config/README.md: {e:#}"));
}

#[tokio::test]
async fn a_content_type_the_router_cannot_read_counts_as_simple() {
    let (router, subgraph) = router("{}").await;
    let url = format!("{}/graphql?query=%7Bpublic%7D", router.url());
    let http = reqwest::Client::new();
    let status = |value: &'static [u8]| {
        let request = http.get(&url).header(
            "content-type",
            reqwest::header::HeaderValue::from_bytes(value).expect("header value"),
        );
        async move {
            let response = request.send().await.expect("answer");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("JSON");
            (status, body["errors"][0]["extensions"]["code"].clone())
        }
    };
    let refused = (400, Value::from("CSRF_PREVENTED"));

    // Browsers send these cross-site without a preflight: bytes 0x80-0xFF are safelisted.
    assert_eq!(status(b"text/plain;charset=\xE9").await, refused);
    assert_eq!(status(b"TEXT/PLAIN ; charset=\xE9\xFF").await, refused);
    // What does not parse is refused too.
    assert_eq!(status(b"\xE9").await, refused);
    assert_eq!(status(b"application/json\xE9").await, refused);
    assert_eq!(status(b"application/").await, refused);
    assert_eq!(subgraph.count(), 0);
    // A type only a preflight allows still passes, whatever its parameters hold.
    assert_eq!(
        status(b"application/json; charset=\xE9").await,
        (200, Value::Null)
    );
    assert_eq!(subgraph.count(), 1);
}
