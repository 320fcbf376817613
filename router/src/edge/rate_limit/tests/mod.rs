//! Scenarios run against both stores (`<scenario>::in_process`, `<scenario>::redis`); Redis-only
//! behaviour (shared budgets, outages, recovery) in [`shared`]; configuration and headers in
//! [`config`]. Redis comes from `TESSERA_TEST_REDIS_URL` (default `redis://127.0.0.1:6379`); every
//! limiter gets its own key prefix, so tests never share buckets unless they mean to.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};

use super::*;
use crate::config::rate_limit::{RedisRateLimitStore, RedisUrl};

mod config;
mod shared;

#[derive(Clone, Copy)]
enum Backend {
    InProcess,
    Redis,
}

fn redis_url() -> String {
    std::env::var("TESSERA_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn unique_prefix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("tessera-test:{}:{nanos}:{n}", std::process::id())
}

/// `rate_limits:` from YAML, with the store set separately.
fn config(yaml: &str, store: RateLimitStore) -> RateLimitConfig {
    let mut config: RateLimitConfig = serde_yaml::from_str(yaml).expect("test YAML is valid");
    config.store = store;
    config
}

fn redis_store(url: &str, prefix: &str) -> RateLimitStore {
    RateLimitStore::Redis(RedisRateLimitStore {
        url: RedisUrl::new(url),
        key_prefix: prefix.to_owned(),
        timeout_ms: 500,
    })
}

/// Limiters built from one set of rules; those from one `Fixture` share a Redis prefix.
struct Fixture {
    backend: Backend,
    prefix: String,
}

impl Fixture {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            prefix: unique_prefix(),
        }
    }

    fn limiter(&self, yaml: &str) -> RateLimiter {
        let store = match self.backend {
            Backend::InProcess => RateLimitStore::InProcess,
            Backend::Redis => redis_store(&redis_url(), &self.prefix),
        };
        RateLimiter::new(&config(yaml, store)).expect("test config is valid")
    }
}

/// A request as a test describes it.
#[derive(Default)]
struct Request<'a> {
    sub: Option<&'a str>,
    address: Option<&'a str>,
    header: Option<(&'static str, &'a str)>,
    operation: Option<&'a str>,
    claims: Option<Value>,
}

impl Request<'_> {
    async fn send(&self, limiter: &RateLimiter) -> Decision {
        let claims = match (&self.claims, self.sub) {
            (Some(claims), _) => Some(claims.clone()),
            (None, Some(sub)) => Some(json!({ "sub": sub })),
            (None, None) => None,
        };
        let claims: Option<&Map<String, Value>> = claims.as_ref().and_then(Value::as_object);
        let mut headers = HeaderMap::new();
        if let Some((name, value)) = self.header {
            headers.insert(
                name,
                HeaderValue::from_str(value).expect("valid header value"),
            );
        }
        let input = Input {
            claims,
            address: self
                .address
                .map(|address| address.parse::<IpAddr>().expect("valid address")),
            headers: &headers,
            operation: self.operation,
        };
        limiter.check(&input).await
    }
}

fn user(sub: &str) -> Request<'_> {
    Request {
        sub: Some(sub),
        ..Request::default()
    }
}

fn user_at<'a>(sub: &'a str, address: &'a str) -> Request<'a> {
    Request {
        sub: Some(sub),
        address: Some(address),
        ..Request::default()
    }
}

fn is_allowed(decision: &Decision) -> bool {
    matches!(decision, Decision::Allowed(_))
}

fn remaining(decision: &Decision) -> u64 {
    match decision {
        Decision::Allowed(Some(budget)) | Decision::Limited { budget, .. } => budget.remaining,
        other => panic!("expected a budget, got {other:?}"),
    }
}

fn limit_of(decision: &Decision) -> u64 {
    match decision {
        Decision::Allowed(Some(budget)) | Decision::Limited { budget, .. } => budget.limit,
        other => panic!("expected a budget, got {other:?}"),
    }
}

/// Generates `<scenario>::in_process` and `<scenario>::redis` for `async fn <scenario>(Backend)`.
macro_rules! on_both_stores {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn in_process() {
                super::$scenario(super::Backend::InProcess).await;
            }

            #[tokio::test]
            async fn redis() {
                super::$scenario(super::Backend::Redis).await;
            }
        }
    )*};
}

on_both_stores!(
    allows_exactly_limit_then_limits,
    budget_refills_after_the_emission_interval,
    request_refused_by_user_rule_keeps_global_budget,
    request_refused_by_global_rule_keeps_user_budget,
    address_and_claim_budgets_are_independent,
    ipv6_clients_count_by_their_64_network,
    override_value_gets_its_own_limit,
    rule_without_its_key_part_does_not_apply,
);

const PER_USER_5: &str = "
rules:
  - name: per-user
    key: claim:sub
    limit: 5
    period_secs: 60
";

async fn allows_exactly_limit_then_limits(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(PER_USER_5);
    let mut allowed = Vec::new();
    for _ in 0..8 {
        let decision = user("alice").send(&limiter).await;
        match &decision {
            Decision::Allowed(Some(budget)) => allowed.push(budget.remaining),
            Decision::Limited {
                retry_after,
                budget,
            } => {
                assert!(*retry_after > Duration::ZERO);
                assert_eq!(budget.remaining, 0);
                assert_eq!(budget.limit, 5);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(allowed, [4, 3, 2, 1, 0]);
}

async fn budget_refills_after_the_emission_interval(backend: Backend) {
    // T = 100 ms, two at once.
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: per-user
    key: claim:sub
    limit: 10
    period_secs: 1
    burst: 2
",
    );
    assert!(is_allowed(&user("alice").send(&limiter).await));
    assert!(is_allowed(&user("alice").send(&limiter).await));
    let Decision::Limited { retry_after, .. } = user("alice").send(&limiter).await else {
        panic!("the third request at once is over the burst");
    };
    assert!(retry_after <= Duration::from_millis(100), "{retry_after:?}");
    tokio::time::sleep(retry_after + Duration::from_millis(20)).await;
    assert!(is_allowed(&user("alice").send(&limiter).await));
}

const GLOBAL_AND_PER_USER: &str = "
rules:
  - name: global
    key: global
    limit: 3
    period_secs: 60
  - name: per-user
    key: claim:sub
    limit: 2
    period_secs: 60
";

async fn request_refused_by_user_rule_keeps_global_budget(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(GLOBAL_AND_PER_USER);
    assert!(is_allowed(&user("alice").send(&limiter).await));
    assert!(is_allowed(&user("alice").send(&limiter).await));
    for _ in 0..3 {
        let refused = user("alice").send(&limiter).await;
        assert_eq!(limit_of(&refused), 2, "refused by the per-user rule");
    }
    let last = user("bob").send(&limiter).await;
    assert_eq!(
        remaining(&last),
        0,
        "bob took the global budget's last request"
    );
    assert!(is_allowed(&last));
    assert_eq!(limit_of(&user("bob").send(&limiter).await), 3);
}

async fn request_refused_by_global_rule_keeps_user_budget(backend: Backend) {
    // The global rule admits one request per 100 ms; the per-user one two per hour.
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: global
    key: global
    limit: 10
    period_secs: 1
    burst: 1
  - name: per-user
    key: claim:sub
    limit: 2
    period_secs: 60
",
    );
    assert!(is_allowed(&user("alice").send(&limiter).await));
    let mut wait = Duration::ZERO;
    for _ in 0..3 {
        let Decision::Limited {
            retry_after,
            budget,
        } = user("alice").send(&limiter).await
        else {
            panic!("over the global rule");
        };
        assert_eq!(budget.limit, 10);
        wait = wait.max(retry_after);
    }
    tokio::time::sleep(wait + Duration::from_millis(20)).await;
    let second = user("alice").send(&limiter).await;
    assert!(is_allowed(&second), "{second:?}");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(limit_of(&user("alice").send(&limiter).await), 2);
}

async fn address_and_claim_budgets_are_independent(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: per-address
    key: address
    limit: 2
    period_secs: 60
  - name: per-user
    key: claim:sub
    limit: 2
    period_secs: 60
",
    );
    assert!(is_allowed(
        &user_at("alice", "192.0.2.1").send(&limiter).await
    ));
    assert!(is_allowed(
        &user_at("bob", "192.0.2.1").send(&limiter).await
    ));
    let carol = user_at("carol", "192.0.2.1").send(&limiter).await;
    assert_eq!(limit_of(&carol), 2);
    assert!(!is_allowed(&carol), "the address is spent");
    assert!(is_allowed(
        &user_at("alice", "192.0.2.2").send(&limiter).await
    ));
    assert!(
        !is_allowed(&user_at("alice", "192.0.2.3").send(&limiter).await),
        "alice is spent"
    );
    assert!(is_allowed(
        &user_at("dave", "192.0.2.2").send(&limiter).await
    ));
    assert!(is_allowed(
        &user_at("carol", "192.0.2.3").send(&limiter).await
    ));
}

async fn ipv6_clients_count_by_their_64_network(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: per-address
    key: address
    limit: 1
    period_secs: 60
",
    );
    let at = |address| Request {
        address: Some(address),
        ..Request::default()
    };
    assert!(is_allowed(&at("2001:db8:1:2::1").send(&limiter).await));
    assert!(!is_allowed(
        &at("2001:db8:1:2:ffff::9").send(&limiter).await
    ));
    assert!(is_allowed(&at("2001:db8:1:3::1").send(&limiter).await));
    assert!(is_allowed(&at("::ffff:192.0.2.7").send(&limiter).await));
    assert!(!is_allowed(&at("192.0.2.7").send(&limiter).await));
}

async fn override_value_gets_its_own_limit(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: per-user
    key: claim:sub
    limit: 1
    period_secs: 60
    overrides:
      - value: importer
        limit: 3
  - name: per-address
    key: address
    limit: 1
    period_secs: 60
    overrides:
      - value: 2001:DB8::/64
        limit: 2
",
    );
    for expected in [2, 1, 0] {
        assert_eq!(remaining(&user("importer").send(&limiter).await), expected);
    }
    assert_eq!(limit_of(&user("importer").send(&limiter).await), 3);
    assert!(is_allowed(&user("alice").send(&limiter).await));
    let alice = user("alice").send(&limiter).await;
    assert!(!is_allowed(&alice));
    assert_eq!(limit_of(&alice), 1);
    let at = |address| Request {
        address: Some(address),
        ..Request::default()
    };
    assert!(is_allowed(&at("2001:db8::1").send(&limiter).await));
    assert!(is_allowed(&at("2001:db8::2").send(&limiter).await));
    assert!(!is_allowed(&at("2001:db8::3").send(&limiter).await));
}

async fn rule_without_its_key_part_does_not_apply(backend: Backend) {
    let limiter = Fixture::new(backend).limiter(
        "
rules:
  - name: per-org
    key: claim:org.id
    limit: 1
    period_secs: 60
  - name: per-key-and-operation
    key: [header:x-api-key, operation]
    limit: 1
    period_secs: 60
",
    );
    for _ in 0..3 {
        assert_eq!(
            Request::default().send(&limiter).await,
            Decision::Allowed(None)
        );
        let org_is_an_array = Request {
            claims: Some(json!({ "org": { "id": ["a", "b"] } })),
            header: Some(("x-api-key", "k1")),
            ..Request::default()
        };
        assert_eq!(
            org_is_an_array.send(&limiter).await,
            Decision::Allowed(None)
        );
    }
    let in_org = Request {
        claims: Some(json!({ "org": { "id": 42 } })),
        ..Request::default()
    };
    assert!(is_allowed(&in_org.send(&limiter).await));
    assert!(!is_allowed(&in_org.send(&limiter).await), "per-org applies");
    let keyed = Request {
        header: Some(("x-api-key", "k1")),
        operation: Some("GetProducts"),
        ..Request::default()
    };
    assert!(is_allowed(&keyed.send(&limiter).await));
    assert!(
        !is_allowed(&keyed.send(&limiter).await),
        "both parts present"
    );
}
