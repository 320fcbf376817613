//! Reading configuration, and the response headers.

use super::*;
use crate::config::rate_limit::KeyPart;

#[test]
fn budget_headers_name_limit_remaining_and_reset() {
    let budget = Budget {
        limit: 100,
        remaining: 7,
        reset: Duration::from_millis(2_001),
    };
    let headers = budget.headers().map(|(name, value)| {
        let value = value.to_str().expect("ASCII").to_owned();
        (name.as_str().to_owned(), value)
    });
    assert_eq!(
        headers,
        [
            ("ratelimit-limit".to_owned(), "100".to_owned()),
            ("ratelimit-remaining".to_owned(), "7".to_owned()),
            ("ratelimit-reset".to_owned(), "3".to_owned()),
        ]
    );
    let whole = Budget {
        reset: Duration::from_secs(2),
        ..budget
    };
    assert_eq!(whole.headers()[2].1, "2");
}

#[test]
fn reads_the_documented_configuration() {
    let config: RateLimitConfig = serde_yaml::from_str(
        r#"
store:
  redis:
    url: redis://127.0.0.1:6379
on_store_failure: closed
rules:
  - name: per-user
    key: claim:sub
    limit: 100
    period_secs: 60
    overrides:
      - value: "someone"
        limit: 1000
  - name: per-address-and-operation
    key: [address, operation, "header:X-Tenant"]
    limit: 20
    period_secs: 1
    burst: 40
    overrides:
      - value: ["192.0.2.1", "GetProducts", "acme"]
        limit: 40
        period_secs: 2
        burst: 10
"#,
    )
    .expect("valid configuration");
    let RateLimitStore::Redis(redis) = &config.store else {
        panic!("redis store");
    };
    assert_eq!(redis.key_prefix, "tessera:rate");
    assert_eq!(redis.timeout_ms, 50);
    assert_eq!(format!("{:?}", redis.url), "[redacted]");
    assert_eq!(config.on_store_failure, StoreFailurePolicy::Closed);
    assert_eq!(
        config.rules[1].key.parts(),
        [
            KeyPart::Address,
            KeyPart::Operation,
            KeyPart::Header(HeaderName::from_static("x-tenant")),
        ]
    );
    let limiter = RateLimiter::new(&config).expect("valid configuration");
    assert!(!limiter.is_empty());

    let defaults: RateLimitConfig = serde_yaml::from_str("{}").expect("empty section");
    assert_eq!(defaults, RateLimitConfig::default());
    assert_eq!(defaults.store, RateLimitStore::InProcess);
    assert_eq!(defaults.on_store_failure, StoreFailurePolicy::Open);
    assert!(RateLimiter::new(&defaults).expect("valid").is_empty());
}

#[test]
fn rejects_invalid_configuration() {
    let unreadable = [
        "rules: [{name: a, key: 'claim:', limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: cookie, limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: [global, address], limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: [address, address], limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: 'header:bad header', limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: address, limit: 1, period_secs: 1, window: 3}]",
        "store: {redis: {url: 'redis://x', prefix: p}}",
        "on_store_failure: maybe",
    ];
    for yaml in unreadable {
        assert!(
            serde_yaml::from_str::<RateLimitConfig>(yaml).is_err(),
            "{yaml}"
        );
    }
    let invalid = [
        "rules: [{name: a, key: address, limit: 0, period_secs: 1}]",
        "rules: [{name: a, key: address, limit: 1, period_secs: 0}]",
        "rules: [{name: a, key: address, limit: 1, period_secs: 1, burst: 0}]",
        "rules: [{name: a, key: address, limit: 2000000, period_secs: 1}]",
        "rules: [{name: 'a b', key: address, limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: address, limit: 1, period_secs: 1}, \
                 {name: a, key: operation, limit: 1, period_secs: 1}]",
        "rules: [{name: a, key: address, limit: 1, period_secs: 1, \
                  overrides: [{value: not-an-ip, limit: 2}]}]",
        "rules: [{name: a, key: [address, operation], limit: 1, period_secs: 1, \
                  overrides: [{value: 192.0.2.1, limit: 2}]}]",
        "rules: [{name: a, key: global, limit: 1, period_secs: 1, \
                  overrides: [{value: x, limit: 2}]}]",
        "rules: [{name: a, key: operation, limit: 1, period_secs: 1, \
                  overrides: [{value: x, limit: 2}, {value: x, limit: 3}]}]",
        "store: {redis: {url: 'http://127.0.0.1'}}",
        "store: {redis: {url: 'redis://127.0.0.1', timeout_ms: 0}}",
    ];
    for yaml in invalid {
        let config: RateLimitConfig = serde_yaml::from_str(yaml).expect(yaml);
        assert!(RateLimiter::new(&config).is_err(), "{yaml}");
    }
}
