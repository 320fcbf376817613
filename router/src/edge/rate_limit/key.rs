//! Rules compiled from configuration, and the store key each forms for a request.
//!
//! A key is `{prefix}:{rule}:{digest}`, where the digest covers the request's values for the
//! rule's parts, each written as `{length}:{bytes}` so no two lists of values encode alike. The
//! digest (SHA-256, base64url, 43 characters) keeps keys short and keeps what the values are
//! (tokens' subjects, e-mail addresses, API keys in headers) out of the store's key space. It
//! must be the same in every router instance and version sharing a Redis, which rules out
//! `ahash` and `DefaultHasher`.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

use ahash::AHashMap;
use anyhow::{Context as _, bail, ensure};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::Input;
use super::store::Cell;
use crate::config::rate_limit::{KeyPart, RateLimitRule};

/// No period or tolerance may exceed ten years, so that `now + τ` stays exact in Lua's doubles.
const MAX_SPAN_US: u64 = 10 * 366 * 24 * 3600 * 1_000_000;

/// A budget's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Params {
    /// Requests per period, as configured; reported in `RateLimit-Limit`.
    pub limit: u64,
    /// `T`, in microseconds.
    pub emission_us: u64,
    /// `τ = T × burst`, in microseconds.
    pub tolerance_us: u64,
}

impl Params {
    fn new(limit: u64, period_secs: u64, burst: Option<u64>) -> anyhow::Result<Self> {
        ensure!(limit >= 1, "limit must be at least 1");
        ensure!(period_secs >= 1, "period_secs must be at least 1");
        let burst = burst.unwrap_or(limit);
        ensure!(burst >= 1, "burst must be at least 1");
        let period_us = period_secs
            .checked_mul(1_000_000)
            .filter(|period| *period <= MAX_SPAN_US)
            .context("period_secs must be at most ten years")?;
        // Rounding down lets at most one extra request through per period.
        let emission_us = period_us / limit;
        ensure!(
            emission_us >= 1,
            "at most one request per microsecond: limit {limit} per {period_secs}s is too high"
        );
        let tolerance_us = emission_us
            .checked_mul(burst)
            .filter(|tolerance| *tolerance <= MAX_SPAN_US)
            .context("burst × period / limit must be at most ten years")?;
        Ok(Self {
            limit,
            emission_us,
            tolerance_us,
        })
    }
}

/// A rule ready to form keys.
pub(super) struct Rule {
    parts: Vec<KeyPart>,
    /// `{prefix}:{name}:`, to which the digest is appended; for a `global` rule, the whole key.
    key_base: String,
    params: Params,
    /// Budgets for particular values, by their encoding.
    overrides: AHashMap<Vec<u8>, Params>,
}

impl Rule {
    pub fn compile(rule: &RateLimitRule, prefix: &str) -> anyhow::Result<Self> {
        let name = &rule.name;
        ensure!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte)),
            "rate-limit rule name `{name}` must be letters, digits, `-`, `_` or `.`"
        );
        let parts = rule.key.parts().to_vec();
        let params = Params::new(rule.limit, rule.period_secs, rule.burst)
            .with_context(|| format!("rate-limit rule `{name}`"))?;
        let global = parts == [KeyPart::Global];
        let mut overrides = AHashMap::default();
        for entry in &rule.overrides {
            let context = || format!("rate-limit rule `{name}`, override {:?}", entry.value.0);
            ensure!(
                !global,
                "rate-limit rule `{name}`: a global key has no values to override"
            );
            if entry.value.0.len() != parts.len() {
                bail!(
                    "{}: {} value(s) for a key of {} part(s)",
                    context(),
                    entry.value.0.len(),
                    parts.len()
                );
            }
            let values = parts
                .iter()
                .zip(&entry.value.0)
                .map(|(part, value)| override_value(part, value))
                .collect::<anyhow::Result<Vec<_>>>()
                .with_context(context)?;
            let period_secs = entry.period_secs.unwrap_or(rule.period_secs);
            let params =
                Params::new(entry.limit, period_secs, entry.burst).with_context(context)?;
            let encoded = encode(values.iter().map(|value| value.as_bytes()));
            ensure!(
                overrides.insert(encoded, params).is_none(),
                "{}: the value is overridden twice",
                context()
            );
        }
        let key_base = if global {
            format!("{prefix}:{name}")
        } else {
            format!("{prefix}:{name}:")
        };
        Ok(Self {
            parts,
            key_base,
            params,
            overrides,
        })
    }

    /// The bucket this request counts against and its budget, or `None` when the request lacks
    /// one of the key's parts.
    pub fn cell(&self, input: &Input<'_>) -> Option<(Cell, Params)> {
        if self.parts == [KeyPart::Global] {
            return Some((cell(self.key_base.clone(), self.params), self.params));
        }
        let mut values = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            values.push(value(part, input)?);
        }
        let encoded = encode(values.iter().map(|value| value.as_ref()));
        let params = self.overrides.get(&encoded).copied().unwrap_or(self.params);
        let key = format!("{}{}", self.key_base, digest(&encoded));
        Some((cell(key, params), params))
    }
}

fn cell(key: String, params: Params) -> Cell {
    Cell {
        key,
        emission_us: params.emission_us,
        tolerance_us: params.tolerance_us,
    }
}

/// The request's value for one key part.
fn value<'a>(part: &KeyPart, input: &Input<'a>) -> Option<Cow<'a, [u8]>> {
    match part {
        KeyPart::Claim(path) => match claim(input.claims?, path)? {
            Value::String(text) => Some(Cow::Borrowed(text.as_bytes())),
            Value::Number(number) => Some(Cow::Owned(number.to_string().into_bytes())),
            Value::Bool(true) => Some(Cow::Borrowed(b"true")),
            Value::Bool(false) => Some(Cow::Borrowed(b"false")),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        },
        KeyPart::Address => Some(Cow::Owned(address(input.address?).into_bytes())),
        KeyPart::Header(name) => Some(Cow::Borrowed(input.headers.get(name)?.as_bytes())),
        KeyPart::Operation => Some(Cow::Borrowed(input.operation?.as_bytes())),
        KeyPart::Global => Some(Cow::Borrowed(b"")),
    }
}

/// A claim by its whole name, else by its dotted path into nested objects.
fn claim<'a>(claims: &'a serde_json::Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut segments = path.split('.');
    let mut value = claims.get(segments.next()?)?;
    for segment in segments {
        value = value.as_object()?.get(segment)?;
    }
    Some(value)
}

/// How an address is counted: IPv4 (also when IPv4-mapped) as is, IPv6 by its `/64`.
fn address(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// An override's value as the request's value would be written: addresses are normalised, so
/// `2001:db8:1:2::7`, `2001:DB8:1:2::/64` and `2001:db8:1:2::/64` are one override.
fn override_value(part: &KeyPart, value: &str) -> anyhow::Result<String> {
    if *part != KeyPart::Address {
        return Ok(value.to_owned());
    }
    let ip = value.strip_suffix("/64").unwrap_or(value);
    let parsed: IpAddr = ip
        .parse()
        .with_context(|| format!("`{value}` is not an IP address"))?;
    ensure!(
        ip.len() == value.len() || parsed.is_ipv6(),
        "`{value}`: only IPv6 networks (`/64`) are counted as one"
    );
    Ok(address(parsed))
}

fn encode<'v>(values: impl Iterator<Item = &'v [u8]>) -> Vec<u8> {
    let mut encoded = Vec::new();
    for value in values {
        encoded.extend_from_slice(value.len().to_string().as_bytes());
        encoded.push(b':');
        encoded.extend_from_slice(value);
    }
    encoded
}

fn digest(encoded: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(encoded))
}
