//! Rate limits through the router: 429 with `Retry-After`, `RATE_LIMITED` and the remaining
//! budget in headers; one budget shared by two routers over one Redis; a Redis outage
//! answered by the configured policy without hanging.

use std::time::{Duration, Instant};

use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

use super::{Key, claims, jwks_file, jwt_config, post, router, subgraph, supergraph};

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other run shares.
fn prefix(test: &str) -> String {
    format!(
        "tessera-test:{test}:{}:{}",
        std::process::id(),
        super::now()
    )
}

#[tokio::test]
async fn refuses_over_the_limit_with_429_retry_after_and_the_budget_in_headers() {
    let (router, subgraph) = router(
        "rate_limits:\n  rules:\n    - name: everyone\n      key: global\n      limit: 3\n      period_secs: 3600\n",
    )
    .await;
    for remaining in ["2", "1", "0"] {
        let answer = post(&router, "{ public }", &[]).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.headers["ratelimit-limit"], "3");
        assert_eq!(answer.headers["ratelimit-remaining"], remaining);
    }
    let answer = post(&router, "{ public }", &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (429, "RATE_LIMITED"),
        "{}",
        answer.body
    );
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry > 0 && retry <= 3600, "{retry}");
    assert_eq!(answer.headers["ratelimit-remaining"], "0");
    assert_eq!(
        subgraph.count(),
        3,
        "the refused request reached no subgraph"
    );
}

#[tokio::test]
async fn keys_budgets_by_claim_with_overrides() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let config = jwt_config(
        jwks.path(),
        "rate_limits:\n  rules:\n    - name: per-user\n      key: claim:sub\n      limit: 1\n      period_secs: 3600\n      overrides:\n        - value: vip\n          limit: 3\n",
    );
    let (router, _) = router(&config).await;
    let token = |sub: &str| format!("Bearer {}", key.sign(&claims(sub, "")));
    let (ann, bo, vip) = (token("ann"), token("bo"), token("vip"));
    let status = |a: super::Answer| a.status;
    assert_eq!(
        status(post(&router, "{ public }", &[("authorization", &ann)]).await),
        200
    );
    assert_eq!(
        status(post(&router, "{ public }", &[("authorization", &ann)]).await),
        429
    );
    // Another user has a budget of their own.
    assert_eq!(
        status(post(&router, "{ public }", &[("authorization", &bo)]).await),
        200
    );
    for _ in 0..3 {
        assert_eq!(
            status(post(&router, "{ public }", &[("authorization", &vip)]).await),
            200
        );
    }
    assert_eq!(
        status(post(&router, "{ public }", &[("authorization", &vip)]).await),
        429
    );
    // Anonymous requests have no `sub`: the rule does not apply to them.
    assert_eq!(status(post(&router, "{ public }", &[]).await), 200);
}

/// A router whose one rule (per operation name) is kept in Redis at `url` (the suite's Redis
/// when `None`).
async fn redis_router(url: Option<&str>, prefix: &str, policy: &str, limit: u32) -> RouterServer {
    let config = GatewayConfig::parse(&format!(
        "rate_limits:\n  store:\n    redis:\n      url: {}\n      key_prefix: \"{prefix}\"\n      timeout_ms: 200\n  on_store_failure: {policy}\n  rules:\n    - name: per-operation\n      key: operation\n      limit: {limit}\n      period_secs: 3600\n",
        url.map_or_else(redis_url, str::to_owned)
    ))
    .expect("config");
    let (_, subgraph_url) = subgraph().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    RouterServer::start(listener, &supergraph(&subgraph_url), config)
        .await
        .expect("router")
}

/// POSTs the named operation `query <name> { public }`: its status and error code.
async fn named_answer(router: &RouterServer, name: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(&serde_json::json!({ "query": format!("query {name} {{ public }}"), "operationName": name }))
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let code = body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code)
}

async fn named(router: &RouterServer, name: &str) -> u16 {
    named_answer(router, name).await.0
}

#[tokio::test]
async fn two_routers_sharing_redis_enforce_one_budget() {
    let prefix = prefix("shared");
    let a = redis_router(None, &prefix, "closed", 7).await;
    let b = redis_router(None, &prefix, "closed", 7).await;
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..20 {
        let router = if i % 2 == 0 { &a } else { &b };
        match named(router, "Shared").await {
            200 => ok += 1,
            429 => limited += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((ok, limited), (7, 13));
    // Another operation name is another key.
    assert_eq!(named(&b, "Other").await, 200);
}

#[tokio::test]
async fn answers_a_redis_outage_by_policy_without_hanging() {
    let prefix = prefix("outage");
    let open = redis_router(Some("redis://127.0.0.1:1"), &prefix, "open", 1).await;
    let closed = redis_router(Some("redis://127.0.0.1:1"), &prefix, "closed", 1).await;
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(
            named(&open, "Q").await,
            200,
            "fail open lets requests through"
        );
    }
    assert_eq!(
        named_answer(&closed, "Q").await,
        (503, "RATE_LIMITER_UNAVAILABLE".to_owned())
    );
    // A request no rule applies to (no operation name) needs no store.
    assert_eq!(post(&closed, "{ public }", &[]).await.status, 200);
    // A guard against hanging, not a performance assertion.
    assert!(started.elapsed() < Duration::from_secs(10));
}
