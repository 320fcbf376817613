//! The `connection_init` payload of a WebSocket ("connection params"), read as the headers
//! the connection is authenticated with.
//!
//! Browsers cannot set headers on a WebSocket, so clients put the caller's token in the
//! payload, in one of a few shapes:
//!
//! - as a header: `{"Authorization": "Bearer …"}` (any case), or inside
//!   `{"headers": {"Authorization": "Bearer …"}}`;
//! - as a bare token: `{"authToken": "…"}`, `{"token": "…"}` or `{"accessToken": "…"}`. The
//!   configured prefix (`Bearer` by default) is added unless the value already starts with it.
//!
//! The token lands in the header authentication reads it from (`authentication.jwt.header`,
//! `Authorization` by default), over the upgrade request's own: sending the caller's token is
//! what `connection_init` is for. Other string entries, at the top level or in `headers`, are
//! taken as headers too (a configured token header such as `x-token`), but never one the
//! upgrade request carried (a proxy's, the browser's) nor one only the network path sets
//! (forwarding headers, cookies, the router's client address). A token that is present but is not a non-empty string, has
//! characters a header cannot carry, or differs between two shapes is refused, never ignored:
//! a connection meant to be authenticated must not quietly run anonymously. `null` counts as
//! absent (clients often send `{ authToken: null }` when signed out).

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Map, Value as Json};

use crate::config::GatewayConfig;
use crate::config::jwt::TokenHeaderConfig;
use crate::pipeline::request::RequestError;

/// Keys that carry a bare token (compared ignoring case).
const BARE_TOKEN_KEYS: [&str; 3] = ["authtoken", "token", "accesstoken"];

/// `upgrade`, with what `payload` carries on top: the headers to authenticate with.
pub fn headers(
    config: &GatewayConfig,
    upgrade: &HeaderMap,
    payload: Option<Json>,
) -> Result<HeaderMap, RequestError> {
    let mut headers = upgrade.clone();
    let payload = match payload {
        None | Some(Json::Null) => return Ok(headers),
        Some(Json::Object(payload)) => payload,
        Some(_) => {
            return Err(RequestError::BadParameter(
                "the connection_init payload must be a JSON object".into(),
            ));
        }
    };
    let nested = match payload.get("headers") {
        None | Some(Json::Null) => None,
        Some(Json::Object(nested)) => Some(nested),
        Some(_) => {
            return Err(RequestError::BadParameter(
                "the connection_init payload's headers must be a JSON object".into(),
            ));
        }
    };
    let default = TokenHeaderConfig::default();
    let location = config
        .authentication
        .jwt
        .as_ref()
        .map_or(&default, |jwt| &jwt.header);
    let token_header = HeaderName::try_from(location.name.as_str())
        .map_err(|_| malformed("the configured token header name is invalid"))?;

    let mut token: Option<HeaderValue> = None;
    let prefix = location.prefix.as_str();
    let mut found = |value: HeaderValue| match &token {
        Some(seen) if !same_token(seen, &value, prefix) => Err(malformed(
            "the connection_init payload carries two different tokens",
        )),
        _ => {
            token = Some(value);
            Ok(())
        }
    };
    for entries in [Some(&payload), nested].into_iter().flatten() {
        for (key, value) in entries {
            let name = HeaderName::try_from(key.as_str()).ok();
            if name.as_ref() == Some(&token_header) {
                if let Some(text) = token_text(value)? {
                    found(header_value(text)?)?;
                }
            } else if let (Some(name), Json::String(text)) = (name, value)
                && let Ok(value) = HeaderValue::try_from(text.as_str())
                // The payload adds headers; it never replaces one the upgrade request carried
                // (a proxy's, the browser's) or claims what only a proxy or the router says.
                && !upgrade.contains_key(&name)
                && !NEVER_FROM_PAYLOAD.contains(&name.as_str())
            {
                headers.insert(name, value);
            }
        }
    }
    for value in bare_tokens(&payload) {
        if let Some(text) = token_text(value)? {
            found(header_value(&with_prefix(text, &location.prefix))?)?;
        }
    }
    if let Some(mut value) = token {
        value.set_sensitive(true);
        headers.insert(token_header, value);
    }
    Ok(headers)
}

/// Headers only the network path may set: the client's address as proxies and the router
/// report it, the connection's own, and what the browser decides.
const NEVER_FROM_PAYLOAD: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "x-real-ip",
    crate::edge::client_address::HEADER,
    "host",
    "origin",
    "cookie",
    "connection",
    "upgrade",
    "content-length",
    "content-type",
    "transfer-encoding",
];

/// The top-level entries that carry a bare token.
fn bare_tokens(payload: &Map<String, Json>) -> impl Iterator<Item = &Json> {
    payload
        .iter()
        .filter(|(key, _)| BARE_TOKEN_KEYS.contains(&key.to_ascii_lowercase().as_str()))
        .map(|(_, value)| value)
}

/// The token text of a token entry: `None` for `null`; an error for anything but a non-empty
/// string.
fn token_text(value: &Json) -> Result<Option<&str>, RequestError> {
    match value {
        Json::Null => Ok(None),
        Json::String(text) if !text.trim().is_empty() => Ok(Some(text.trim())),
        Json::String(_) => Err(malformed("a token in the connection_init payload is empty")),
        _ => Err(malformed(
            "a token in the connection_init payload must be a string",
        )),
    }
}

/// `token` as the header carries it: with `prefix` and a space in front, unless it already
/// starts with them (or there is no prefix).
fn with_prefix(token: &str, prefix: &str) -> String {
    let prefixed = token
        .get(..prefix.len())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(prefix))
        && token[prefix.len()..].starts_with(' ');
    if prefix.is_empty() || prefixed {
        token.to_owned()
    } else {
        format!("{prefix} {token}")
    }
}

/// Whether two header values carry one token: the scheme (`prefix`) is compared without
/// regard to case, as HTTP compares authentication schemes, and the token itself exactly.
fn same_token(a: &HeaderValue, b: &HeaderValue, prefix: &str) -> bool {
    let token = |value: &HeaderValue| {
        let bytes = value.as_bytes();
        match bytes.get(..prefix.len()) {
            Some(scheme)
                if !prefix.is_empty() && scheme.eq_ignore_ascii_case(prefix.as_bytes()) =>
            {
                bytes[prefix.len()..].trim_ascii_start().to_vec()
            }
            _ => bytes.to_vec(),
        }
    };
    token(a) == token(b)
}

fn header_value(text: &str) -> Result<HeaderValue, RequestError> {
    HeaderValue::try_from(text).map_err(|_| {
        malformed("a token in the connection_init payload has characters a header cannot carry")
    })
}

fn malformed(message: &'static str) -> RequestError {
    RequestError::Token {
        code: "TOKEN_MALFORMED",
        message,
        status: StatusCode::UNAUTHORIZED,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(payload: Json) -> Result<HeaderMap, RequestError> {
        headers(&GatewayConfig::default(), &HeaderMap::new(), Some(payload))
    }

    fn authorization(payload: Json) -> Option<String> {
        read(payload)
            .expect("accepted")
            .get("authorization")
            .map(|v| v.to_str().expect("text").to_owned())
    }

    #[test]
    fn the_payload_adds_headers_but_never_replaces_the_upgrades_or_the_proxys() {
        let mut upgrade = HeaderMap::new();
        upgrade.insert("x-tenant", HeaderValue::from_static("from-proxy"));
        let headers = headers(
            &GatewayConfig::default(),
            &upgrade,
            Some(json!({
                "x-tenant": "from-client",
                "x-forwarded-for": "203.0.113.9",
                "x-tessera-client-address": "203.0.113.9",
                "cookie": "session=stolen",
                "headers": { "x-extra": "1", "forwarded": "for=203.0.113.9" },
            })),
        )
        .expect("accepted");
        assert_eq!(headers["x-tenant"], "from-proxy");
        assert_eq!(headers["x-extra"], "1");
        for name in [
            "x-forwarded-for",
            "x-tessera-client-address",
            "cookie",
            "forwarded",
        ] {
            assert!(headers.get(name).is_none(), "{name}");
        }
    }

    #[test]
    fn reads_every_common_token_shape() {
        let bearer = Some("Bearer abc".to_owned());
        for payload in [
            json!({ "Authorization": "Bearer abc" }),
            json!({ "authorization": "Bearer abc" }),
            json!({ "headers": { "Authorization": "Bearer abc" } }),
            json!({ "headers": { "authorization": "Bearer abc" } }),
            json!({ "authToken": "abc" }),
            json!({ "token": "abc" }),
            json!({ "accessToken": "abc" }),
            json!({ "authToken": "Bearer abc" }),
            json!({ "token": "bearer abc" }),
            json!({ "Authorization": "Bearer abc", "authToken": "abc" }),
            // One token sent two ways, its scheme in another case.
            json!({ "Authorization": "bearer abc", "authToken": "abc" }),
            json!({ "headers": { "authorization": "BEARER abc" }, "token": "Bearer abc" }),
        ] {
            let found = authorization(payload.clone());
            assert!(
                found
                    .as_deref()
                    .is_some_and(|f| f.eq_ignore_ascii_case("bearer abc")),
                "{payload}: {found:?}"
            );
        }
        assert_eq!(authorization(json!({ "authToken": "abc" })), bearer);
        assert_eq!(authorization(json!({ "authToken": null })), None);
        assert_eq!(authorization(json!({})), None);
        assert_eq!(authorization(json!(null)), None);
    }

    #[test]
    fn refuses_tokens_that_are_not_usable_strings() {
        for payload in [
            json!({ "authToken": 42 }),
            json!({ "token": { "value": "abc" } }),
            json!({ "accessToken": ["abc"] }),
            json!({ "Authorization": true }),
            json!({ "headers": { "Authorization": 1 } }),
            json!({ "authToken": "" }),
            json!({ "token": "a\nb" }),
            json!({ "Authorization": "Bearer a", "token": "b" }),
        ] {
            let error = read(payload.clone()).expect_err("refused");
            assert_eq!(error.code(), "TOKEN_MALFORMED", "{payload}");
        }
        for payload in [json!("Bearer abc"), json!({ "headers": "Bearer abc" })] {
            let error = read(payload.clone()).expect_err("refused");
            assert_eq!(error.code(), "BAD_REQUEST", "{payload}");
        }
    }

    #[test]
    fn follows_the_configured_token_header() {
        let config = GatewayConfig::parse(
            "authentication:\n  jwt:\n    sources: []\n    header: { name: x-token, prefix: \"\" }\n",
        );
        // An empty source list is refused when the authenticator is built, not when parsed.
        let config = config.expect("parses");
        let read =
            |payload: Json| headers(&config, &HeaderMap::new(), Some(payload)).expect("accepted");
        assert_eq!(read(json!({ "authToken": "abc" }))["x-token"], "abc");
        assert_eq!(read(json!({ "x-token": "abc" }))["x-token"], "abc");
        assert_eq!(
            read(json!({ "headers": { "X-Token": "abc" } }))["x-token"],
            "abc"
        );
        // Authorization is then an ordinary header.
        let headers = read(json!({ "Authorization": "Bearer abc" }));
        assert_eq!(headers["authorization"], "Bearer abc");
        assert!(!headers.contains_key("x-token"));
    }

    #[test]
    fn the_payload_overrides_the_upgrade_requests_token_and_keeps_its_other_headers() {
        let mut upgrade = HeaderMap::new();
        upgrade.insert("authorization", HeaderValue::from_static("Bearer old"));
        upgrade.insert("cookie", HeaderValue::from_static("a=b"));
        let headers = headers(
            &GatewayConfig::default(),
            &upgrade,
            Some(json!({ "authToken": "new" })),
        )
        .expect("accepted");
        assert_eq!(headers["authorization"], "Bearer new");
        assert_eq!(headers["cookie"], "a=b");
    }
}
