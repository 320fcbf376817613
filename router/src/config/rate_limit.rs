//! Rate-limit settings (`rate_limits:`): where budgets are kept, what a request gets when that
//! store cannot answer, and the rules.
//!
//! ```yaml
//! rate_limits:
//!   store:
//!     redis:
//!       url: redis://127.0.0.1:6379
//!       key_prefix: tessera:rate
//!       timeout_ms: 50
//!   on_store_failure: open
//!   rules:
//!     - name: per-user
//!       key: claim:sub
//!       limit: 100
//!       period_secs: 60
//!       overrides:
//!         - value: "batch-importer"
//!           limit: 1000
//!     - name: per-address-and-operation
//!       key: [address, operation]
//!       limit: 20
//!       period_secs: 1
//!       burst: 40
//! ```

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// Request budgets. Without rules nothing is limited and the store is never touched.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Where budgets are kept. Absent: in this router process, so every instance keeps its own.
    #[serde(default)]
    pub store: RateLimitStore,
    /// What a request gets when the store cannot answer in time.
    #[serde(default)]
    pub on_store_failure: StoreFailurePolicy,
    /// The rules. A request counts against every rule whose key it has, all or nothing: a
    /// request refused by one rule consumes no other rule's budget.
    #[serde(default)]
    pub rules: Vec<RateLimitRule>,
}

/// Where budgets are kept. In YAML a map with at most one store (`redis:`); absent or empty
/// means in process.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "StoreSection")]
pub enum RateLimitStore {
    /// In this process: budgets are per router instance and start afresh on restart.
    #[default]
    InProcess,
    /// In Redis: every router instance pointing at the same Redis and prefix shares one budget.
    Redis(RedisRateLimitStore),
}

/// `store:` as written: serde_yaml reads enums only from YAML tags, so the map form is read
/// into this and turned into [`RateLimitStore`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreSection {
    /// Redis, shared by every router instance pointing at it.
    #[serde(default)]
    redis: Option<RedisRateLimitStore>,
}

impl From<StoreSection> for RateLimitStore {
    fn from(section: StoreSection) -> Self {
        match section.redis {
            Some(redis) => Self::Redis(redis),
            None => Self::InProcess,
        }
    }
}

/// A Redis holding the budgets.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisRateLimitStore {
    /// Connection URL, e.g. `redis://127.0.0.1:6379`; may carry a password, so it never prints.
    pub url: RedisUrl,
    /// Prefix of every key written, so several deployments can share one Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// How long one check may wait for Redis, connecting included, in milliseconds. A slower
    /// Redis counts as down for that request.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_key_prefix() -> String {
    "tessera:rate".to_owned()
}

fn default_timeout_ms() -> u64 {
    50
}

/// A Redis connection URL. `Debug` prints a placeholder because the URL may hold a password.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL itself, for the one place that connects.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What a request gets when the store fails (refused connection, timeout, script error). Either
/// way a warning is logged, at most one line every few seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreFailurePolicy {
    /// Let the request through unlimited: an outage of the store is not an outage of the API.
    #[default]
    Open,
    /// Refuse the request with 503: no request goes uncounted.
    Closed,
}

/// One budget: at most `limit` requests per `period_secs` for each value of `key`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// Names the rule in logs and store keys: letters, digits, `-`, `_` and `.`; unique.
    pub name: String,
    /// What is counted: one part or a list of parts, each `claim:<name>`, `address`,
    /// `header:<name>`, `operation` or `global`. A request that lacks a part (no token, so no
    /// claim; header absent; anonymous operation) is not subject to this rule.
    pub key: RateLimitKey,
    /// Requests allowed per period; at least 1.
    pub limit: u64,
    /// The period, in seconds; at least 1.
    pub period_secs: u64,
    /// How many requests may arrive at once after a quiet spell; default `limit`. Lower values
    /// smooth traffic, higher ones allow bursts above the average rate.
    #[serde(default)]
    pub burst: Option<u64>,
    /// Other budgets for particular key values, e.g. a trusted client.
    #[serde(default)]
    pub overrides: Vec<RateLimitOverride>,
}

/// A different budget for one value of a rule's key.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitOverride {
    /// The key value: a string for a one-part key, a list (in the key's order) for several
    /// parts. Quote numbers. Addresses are written as the limiter sees them: IPv4 as is, IPv6 as
    /// its `/64` network, e.g. `2001:db8:1:2::/64`.
    pub value: KeyValue,
    /// Requests allowed per period for this value; at least 1.
    pub limit: u64,
    /// The period, in seconds; default the rule's.
    #[serde(default)]
    pub period_secs: Option<u64>,
    /// How many requests may arrive at once; default this override's `limit`.
    #[serde(default)]
    pub burst: Option<u64>,
}

/// A rule's key: its parts, in order, checked when read (not empty, no repeats, `global` alone).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "OneOrMany")]
pub struct RateLimitKey(Vec<KeyPart>);

impl RateLimitKey {
    pub fn new(parts: Vec<KeyPart>) -> Result<Self, String> {
        if parts.is_empty() {
            return Err("a rate-limit key needs at least one part".to_owned());
        }
        if parts.len() > 1 && parts.contains(&KeyPart::Global) {
            return Err("`global` is a key on its own and cannot be combined".to_owned());
        }
        for (index, part) in parts.iter().enumerate() {
            if parts[..index].contains(part) {
                return Err(format!("key part `{part}` appears twice"));
            }
        }
        Ok(Self(parts))
    }

    pub fn parts(&self) -> &[KeyPart] {
        &self.0
    }
}

impl TryFrom<OneOrMany> for RateLimitKey {
    type Error = String;

    fn try_from(value: OneOrMany) -> Result<Self, Self::Error> {
        let parts = value
            .into_vec()
            .iter()
            .map(|part| part.parse())
            .collect::<Result<Vec<KeyPart>, String>>()?;
        Self::new(parts)
    }
}

/// One part of a rule's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// `claim:<name>`: a claim of the verified token. Dots reach into objects (`org.id`), unless
    /// the token has a top-level claim with the whole name. Strings, numbers and booleans count;
    /// other values are treated as absent.
    Claim(String),
    /// `address`: the client's IP address; an IPv6 client counts as its `/64` network, which
    /// one client typically controls whole.
    Address,
    /// `header:<name>`: the first value of a request header.
    Header(http::HeaderName),
    /// `operation`: the operation's identifier as the pipeline supplies it (its name).
    Operation,
    /// `global`: every request, one budget.
    Global,
}

impl FromStr for KeyPart {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "address" => return Ok(Self::Address),
            "operation" => return Ok(Self::Operation),
            "global" => return Ok(Self::Global),
            _ => {}
        }
        if let Some(path) = text.strip_prefix("claim:") {
            if path.is_empty() || path.split('.').any(str::is_empty) {
                return Err(format!(
                    "`{text}`: a claim name cannot be empty or have empty segments"
                ));
            }
            return Ok(Self::Claim(path.to_owned()));
        }
        if let Some(name) = text.strip_prefix("header:") {
            return http::HeaderName::from_str(name)
                .map(Self::Header)
                .map_err(|_| format!("`{text}`: not a valid header name"));
        }
        Err(format!(
            "unknown key part `{text}`; expected claim:<name>, address, header:<name>, operation \
             or global"
        ))
    }
}

impl fmt::Display for KeyPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Claim(path) => write!(f, "claim:{path}"),
            Self::Address => f.write_str("address"),
            Self::Header(name) => write!(f, "header:{name}"),
            Self::Operation => f.write_str("operation"),
            Self::Global => f.write_str("global"),
        }
    }
}

/// An override's key value, one string per key part.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "OneOrMany")]
pub struct KeyValue(pub Vec<String>);

impl From<OneOrMany> for KeyValue {
    fn from(value: OneOrMany) -> Self {
        Self(value.into_vec())
    }
}

/// A string or a list of strings, as YAML allows either.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}
