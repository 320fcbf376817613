//! Rate limits: whether a request is within every budget configured under `rate_limits:`.
//!
//! ```ignore
//! let limiter = RateLimiter::new(&config.rate_limits)?; // once; never connects
//! if !limiter.is_empty() {
//!     match limiter.check(&input).await {
//!         Decision::Allowed(budget) => { /* proceed; add budget.headers() if Some */ }
//!         Decision::Limited { retry_after, budget } => { /* 429 with Retry-After */ }
//!         Decision::Unavailable => { /* 503 */ }
//!     }
//! }
//! ```
//!
//! Budgets follow GCRA, a token bucket kept as one timestamp per key (see [`store`]). Every rule
//! a request is subject to is decided in one atomic step, in one Redis round trip when Redis is
//! the store: if any rule refuses, no rule's budget is consumed.
//!
//! - [`key`]: rules compiled from configuration, and the key each forms for a request.
//! - [`store`]: the store trait and the GCRA arithmetic.
//! - [`memory`]: the in-process store; [`redis`]: the shared one.

mod key;
mod memory;
mod redis;
mod store;
#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::ensure;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::config::rate_limit::{RateLimitConfig, RateLimitStore, StoreFailurePolicy};
use key::Rule;
use store::{Store, StoreError};

/// At most one warning about a failing store per this interval.
const WARN_EVERY: Duration = Duration::from_secs(5);

/// Checks requests against the configured budgets.
pub struct RateLimiter {
    rules: Vec<Rule>,
    store: Box<dyn Store>,
    on_store_failure: StoreFailurePolicy,
    warnings: Mutex<Warnings>,
}

/// What a rule's key can be formed from.
pub struct Input<'a> {
    /// The verified token's claims; `None` without a token, so `claim:` rules do not apply.
    pub claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// The client's address; `None` if unknown, so `address` rules do not apply.
    pub address: Option<IpAddr>,
    /// The request's headers, for `header:` rules.
    pub headers: &'a HeaderMap,
    /// The operation's identifier (its name); `None` for an anonymous operation, so `operation`
    /// rules do not apply.
    pub operation: Option<&'a str>,
}

/// The outcome of [`RateLimiter::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed and counted; the tightest budget among the rules that applied (fewest remaining),
    /// or `None` if no rule applied or the store failed under `on_store_failure: open`.
    Allowed(Option<Budget>),
    /// Over a limit, and nothing was counted: try again after `retry_after` (the longest wait
    /// among the refusing rules), whose budget is `budget`.
    Limited {
        retry_after: Duration,
        budget: Budget,
    },
    /// The store could not answer and `on_store_failure` is `closed`.
    Unavailable,
}

/// One rule's budget after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The rule's requests per period.
    pub limit: u64,
    /// Requests that may be sent right now (at most the rule's burst).
    pub remaining: u64,
    /// Until the budget is whole again if no request comes (not until the next request would be
    /// allowed; that is `Decision::Limited::retry_after`).
    pub reset: Duration,
}

impl Budget {
    /// `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds, rounded up).
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 3] {
        let reset = self.reset.as_micros().div_ceil(1_000_000);
        [
            (
                HeaderName::from_static("ratelimit-limit"),
                HeaderValue::from(self.limit),
            ),
            (
                HeaderName::from_static("ratelimit-remaining"),
                HeaderValue::from(self.remaining),
            ),
            (
                HeaderName::from_static("ratelimit-reset"),
                HeaderValue::from(u64::try_from(reset).unwrap_or(u64::MAX)),
            ),
        ]
    }
}

impl RateLimiter {
    /// Compiles the rules and prepares the store. Fails only on invalid configuration (a limit,
    /// period or burst of 0, a rate above one request per microsecond, a bad rule name, override
    /// or Redis URL); never because Redis is down, since it connects on first use and, after a
    /// failure, again only once per backoff window.
    pub fn new(config: &RateLimitConfig) -> anyhow::Result<Self> {
        let (store, prefix): (Box<dyn Store>, &str) = match &config.store {
            RateLimitStore::InProcess => (Box::new(memory::MemoryStore::new()), "rate"),
            RateLimitStore::Redis(settings) => {
                ensure!(
                    settings.timeout_ms >= 1,
                    "rate_limits.store.redis.timeout_ms must be at least 1"
                );
                ensure!(
                    !settings.key_prefix.is_empty(),
                    "rate_limits.store.redis.key_prefix cannot be empty"
                );
                let timeout = Duration::from_millis(settings.timeout_ms);
                let store = self::redis::RedisStore::new(settings.url.expose(), timeout)?;
                (Box::new(store), settings.key_prefix.as_str())
            }
        };
        let mut rules = Vec::with_capacity(config.rules.len());
        for (index, rule) in config.rules.iter().enumerate() {
            ensure!(
                config.rules[..index]
                    .iter()
                    .all(|earlier| earlier.name != rule.name),
                "two rate-limit rules are named `{}`",
                rule.name
            );
            rules.push(Rule::compile(rule, prefix)?);
        }
        Ok(Self {
            rules,
            store,
            on_store_failure: config.on_store_failure,
            warnings: Mutex::default(),
        })
    }

    /// No rules: every request would be allowed, so callers skip the check entirely.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Counts the request against every rule whose key it has, all or nothing. Returns within
    /// the store's timeout; a store failure is logged here and decided by `on_store_failure`.
    pub async fn check(&self, input: &Input<'_>) -> Decision {
        let (cells, limits): (Vec<_>, Vec<_>) = self
            .rules
            .iter()
            .filter_map(|rule| rule.cell(input))
            .map(|(cell, params)| (cell, params.limit))
            .unzip();
        if cells.is_empty() {
            return Decision::Allowed(None);
        }
        let verdicts = match self.store.acquire(&cells).await {
            Ok(verdicts) => verdicts,
            Err(error) => return self.on_failure(&error),
        };
        let budget = |index: usize| Budget {
            limit: limits[index],
            remaining: verdicts[index].remaining,
            reset: verdicts[index].reset(),
        };
        let refusing = (0..verdicts.len())
            .filter(|index| !verdicts[*index].allowed)
            .max_by_key(|index| verdicts[*index].retry_after_us);
        match refusing {
            Some(index) => Decision::Limited {
                retry_after: verdicts[index].retry_after(),
                budget: budget(index),
            },
            None => {
                let tightest = (0..verdicts.len())
                    .min_by_key(|index| {
                        let verdict = &verdicts[*index];
                        (verdict.remaining, std::cmp::Reverse(verdict.reset_us))
                    })
                    .expect("at least one cell was checked");
                Decision::Allowed(Some(budget(tightest)))
            }
        }
    }

    fn on_failure(&self, error: &StoreError) -> Decision {
        let (decision, outcome) = match self.on_store_failure {
            StoreFailurePolicy::Open => (Decision::Allowed(None), "allowed unlimited"),
            StoreFailurePolicy::Closed => (Decision::Unavailable, "refused"),
        };
        let admitted = self
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .admit(Instant::now());
        let Some(suppressed) = admitted else {
            return decision;
        };
        tracing::warn!(
            %error,
            suppressed,
            "rate-limit store failed; requests are {outcome} until it answers"
        );
        decision
    }
}

/// When the last store warning was logged, and how many failures went unlogged since.
#[derive(Default)]
struct Warnings {
    last: Option<Instant>,
    suppressed: u64,
}

impl Warnings {
    /// Whether a failure at `now` may be logged, and if so how many went unlogged before it.
    fn admit(&mut self, now: Instant) -> Option<u64> {
        if self
            .last
            .is_some_and(|last| now.saturating_duration_since(last) < WARN_EVERY)
        {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}
