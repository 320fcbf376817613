//! A token's journey before any key is involved: found in the request, split, decoded, and
//! its claims checked against the clock and the configured issuers and audiences.

use std::str::FromStr as _;

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderName, header::COOKIE};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::JwtError;
use crate::config::jwt::JwtConfig;

/// Where a request carries its token.
pub(super) struct TokenLocation {
    header: HeaderName,
    prefix: String,
    cookie: Option<String>,
}

impl TokenLocation {
    pub(super) fn new(config: &JwtConfig) -> anyhow::Result<Self> {
        let header = HeaderName::from_str(&config.header.name)
            .with_context(|| format!("invalid token header name {:?}", config.header.name))?;
        Ok(Self {
            header,
            prefix: config.header.prefix.clone(),
            cookie: config.cookie.clone(),
        })
    }

    /// The token in `headers`, from the header or else the cookie. A header that is present
    /// but unreadable (wrong scheme, repeated, empty) is `Malformed`, never skipped in favour
    /// of the cookie.
    pub(super) fn find<'h>(&self, headers: &'h HeaderMap) -> Result<Option<&'h str>, JwtError> {
        let mut values = headers.get_all(&self.header).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => {
                let value = value.to_str().map_err(|_| JwtError::Malformed)?.trim();
                self.strip_prefix(value)
                    .map(Some)
                    .ok_or(JwtError::Malformed)
            }
            (Some(_), Some(_)) => Err(JwtError::Malformed),
            (None, _) => Ok(self.cookie(headers)),
        }
    }

    fn strip_prefix<'v>(&self, value: &'v str) -> Option<&'v str> {
        let token = if self.prefix.is_empty() {
            value
        } else {
            let scheme = value.get(..self.prefix.len())?;
            let rest = value.get(self.prefix.len()..)?;
            if !scheme.eq_ignore_ascii_case(&self.prefix) || !rest.starts_with(' ') {
                return None;
            }
            rest.trim_start()
        };
        (!token.is_empty()).then_some(token)
    }

    fn cookie<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        let name = self.cookie.as_deref()?;
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().trim_matches('"'))
            .filter(|value| !value.is_empty())
    }
}

/// A token split and decoded, its signature not yet checked.
pub(super) struct Unverified<'t> {
    pub(super) alg: Algorithm,
    pub(super) kid: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub(super) signed: &'t str,
    /// The signature, base64url.
    pub(super) signature: &'t str,
    pub(super) claims: Map<String, Value>,
    pub(super) validity: Validity,
}

#[derive(Deserialize)]
struct JoseHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

/// Splits and decodes `token`. The algorithm is checked against `allowed` here, before any
/// key is looked up: `none`, unknown names and unlisted algorithms never reach a key.
pub(super) fn decode<'t>(
    token: &'t str,
    allowed: &[Algorithm],
) -> Result<Unverified<'t>, JwtError> {
    let (signed, signature) = token.rsplit_once('.').ok_or(JwtError::Malformed)?;
    let (header, payload) = signed.split_once('.').ok_or(JwtError::Malformed)?;
    if payload.contains('.') {
        return Err(JwtError::Malformed);
    }
    let header: JoseHeader = decode_part(header)?;
    let alg = Algorithm::from_str(&header.alg).map_err(|_| JwtError::AlgorithmNotAllowed)?;
    if !allowed.contains(&alg) {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    // `crit` names header extensions the verifier must understand; this one understands none.
    if header.crit.is_some() {
        return Err(JwtError::Malformed);
    }
    let claims: Map<String, Value> = decode_part(payload)?;
    let validity = Validity::read(&claims)?;
    Ok(Unverified {
        alg,
        kid: header.kid,
        signed,
        signature,
        claims,
        validity,
    })
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let json = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| JwtError::Malformed)
}

/// When a token may be used, in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Validity {
    expires: u64,
    not_before: Option<u64>,
}

impl Validity {
    /// `exp` is required; `nbf` is optional. Both must be numbers.
    fn read(claims: &Map<String, Value>) -> Result<Self, JwtError> {
        let expires = claims.get("exp").ok_or(JwtError::Malformed)?;
        Ok(Self {
            expires: seconds(expires)?,
            not_before: claims.get("nbf").map(seconds).transpose()?,
        })
    }

    /// Whether the token may be used at `now`, give or take `leeway` seconds. A token is
    /// expired from its `exp` second on (RFC 7519: "on or after").
    pub(super) fn check(&self, now: u64, leeway: u64) -> Result<(), JwtError> {
        if now >= self.expires.saturating_add(leeway) {
            return Err(JwtError::Expired);
        }
        if self
            .not_before
            .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
        {
            return Err(JwtError::NotYetValid);
        }
        Ok(())
    }
}

fn seconds(value: &Value) -> Result<u64, JwtError> {
    match value.as_u64() {
        Some(seconds) => Ok(seconds),
        None => match value.as_f64() {
            // NumericDate may have a fraction; whole seconds are precise enough.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(seconds) if seconds.is_finite() && seconds >= 0.0 => Ok(seconds as u64),
            _ => Err(JwtError::Malformed),
        },
    }
}

/// Checks `iss` and `aud` against the accepted values; an empty list accepts anything.
pub(super) fn check_audience_and_issuer(
    claims: &Map<String, Value>,
    issuers: &[String],
    audiences: &[String],
) -> Result<(), JwtError> {
    let accepted = |value: &Value, list: &[String]| {
        value
            .as_str()
            .is_some_and(|text| list.iter().any(|item| item == text))
    };
    if !issuers.is_empty() && !claims.get("iss").is_some_and(|iss| accepted(iss, issuers)) {
        return Err(JwtError::WrongIssuer);
    }
    if !audiences.is_empty() {
        let matches = match claims.get("aud") {
            Some(Value::Array(items)) => items.iter().any(|aud| accepted(aud, audiences)),
            Some(aud) => accepted(aud, audiences),
            None => false,
        };
        if !matches {
            return Err(JwtError::WrongAudience);
        }
    }
    Ok(())
}
