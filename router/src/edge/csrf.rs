//! CSRF prevention: refusing what a page of another site could make a browser send without
//! asking the router first (a CORS preflight).
//!
//! A browser sends a "simple" request cross-site without a preflight: GET or POST, with only
//! CORS-safelisted headers (`Accept`, `Accept-Language`, `Content-Language`, and a
//! `Content-Type` of `application/x-www-form-urlencoded`, `multipart/form-data` or
//! `text/plain`) besides those it sets itself. Anything else a page adds makes the browser ask
//! first, and the router's CORS policy then decides. So a request is safe to run when it has
//! a `Content-Type` outside the three simple ones, or a header that only a preflighted request
//! (or a client that is not a browser) can carry:
//!
//! - `Authorization` with a token scheme such as `Bearer`, and the header the router reads
//!   tokens from when it is configured to be another one (`csrf.token_headers`). Browsers
//!   attach only the HTTP authentication schemes (`Basic`, `Digest`, `Negotiate`, `NTLM`) on
//!   their own, so those do not count;
//! - any of `csrf.required_headers` (by default `x-tessera-csrf`, `apollo-require-preflight`,
//!   `x-apollo-operation-name` and `graphql-preflight`).
//!
//! Other headers do not count even though a page could not set them without a preflight:
//! proxies, load balancers and browsers add headers of their own (`X-Forwarded-For`,
//! `X-Request-Id`, `traceparent`, client hints, ...) to simple requests too, and letting any
//! unknown header through would switch the protection off behind most of them.

use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName};

use crate::config::GatewayConfig;

/// The CSRF rule, with its header names parsed once.
#[derive(Debug)]
pub struct Csrf {
    enabled: bool,
    /// Whether a token in `Authorization` shows a preflight happened.
    authorization: bool,
    /// Headers whose presence shows a preflight happened: the configured ones, and the
    /// token header when it is not `Authorization`.
    required: Vec<HeaderName>,
}

/// `Authorization` schemes a browser sends by itself once the user has signed in to the site
/// through HTTP authentication, on cross-site requests too.
const AMBIENT_SCHEMES: [&str; 4] = ["basic", "digest", "negotiate", "ntlm"];

/// Header names a page cannot set, so their presence proves nothing (the fetch standard's
/// forbidden request headers that could be mistaken for a token header).
const FORBIDDEN: [&str; 4] = ["cookie", "host", "origin", "referer"];

impl Csrf {
    pub fn new(config: &GatewayConfig) -> anyhow::Result<Self> {
        let mut required: Vec<HeaderName> = config
            .csrf
            .required_headers
            .iter()
            .map(|h| HeaderName::try_from(h.as_str()))
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("csrf.required_headers: {e}"))?;
        if config.csrf.token_headers
            && let Some(jwt) = &config.authentication.jwt
            && let Ok(name) = HeaderName::try_from(jwt.header.name.as_str())
            && name != AUTHORIZATION
            && !FORBIDDEN.contains(&name.as_str())
            && !safelisted(&name)
            && !required.contains(&name)
        {
            required.push(name);
        }
        Ok(Self {
            enabled: config.csrf.enabled,
            authorization: config.csrf.token_headers,
            required,
        })
    }

    /// The headers that would have let a refused request through, for its error message.
    pub fn accepted_headers(&self) -> String {
        let mut names: Vec<&str> = Vec::with_capacity(self.required.len() + 1);
        if self.authorization {
            names.push("authorization (with a token)");
        }
        names.extend(self.required.iter().map(HeaderName::as_str));
        names.join(", ")
    }

    /// Whether a request with `headers` could only have come after a CORS preflight (or from
    /// something that is not a browser), so it is safe to execute.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        !self.enabled
            || preflighted_content_type(headers)
            || (self.authorization && bearer_authorization(headers))
            || self.required.iter().any(|h| headers.contains_key(h))
    }
}

/// A `Content-Type` a page cannot send without a preflight: a media type that parses and is
/// none of the three simple ones. Its bytes are read as they are (a browser sends bytes
/// 0x80-0xFF in a safelisted value, `text/plain;charset=\xE9` say), and one whose type does
/// not parse counts as simple, so that what the router cannot read is never let through.
fn preflighted_content_type(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).is_some_and(|value| {
        let essence = value
            .as_bytes()
            .split(|&b| b == b';')
            .next()
            .unwrap_or_default()
            .trim_ascii();
        let Some((kind, subtype)) = media_type(essence) else {
            return false;
        };
        let simple = matches!(
            (kind.as_str(), subtype.as_str()),
            ("application", "x-www-form-urlencoded")
                | ("multipart", "form-data")
                | ("text", "plain")
        );
        !simple
    })
}

/// `type/subtype`, lowercased, when both are HTTP tokens.
fn media_type(essence: &[u8]) -> Option<(String, String)> {
    let slash = essence.iter().position(|&b| b == b'/')?;
    let (kind, subtype) = (&essence[..slash], &essence[slash + 1..]);
    let token = |part: &[u8]| {
        !part.is_empty()
            && part
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    if !token(kind) || !token(subtype) {
        return None;
    }
    let lower = |part: &[u8]| String::from_utf8_lossy(part).to_ascii_lowercase();
    Some((lower(kind), lower(subtype)))
}

/// An `Authorization` header that the page itself set: any scheme but the browser-managed ones.
fn bearer_authorization(headers: &HeaderMap) -> bool {
    headers.get_all(AUTHORIZATION).iter().any(|value| {
        let scheme = value
            .to_str()
            .unwrap_or_default()
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        !AMBIENT_SCHEMES.contains(&scheme.as_str())
    })
}

/// The CORS-safelisted request header names (their values aside).
fn safelisted(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "accept" | "accept-language" | "content-language" | "content-type" | "range"
    )
}
