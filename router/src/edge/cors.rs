//! CORS: which other origins' pages a browser lets call the router and read its answers.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};

use crate::config::CorsConfig;

/// The CORS policy, with its header values prepared once.
#[derive(Debug)]
pub struct Cors {
    any_origin: bool,
    origins: Vec<String>,
    credentials: bool,
    methods: Vec<Method>,
    allow_methods: HeaderValue,
    allow_headers: HeaderValue,
    expose_headers: HeaderValue,
    max_age: HeaderValue,
}

/// What to do with a preflight request.
#[derive(Debug)]
pub enum Preflight {
    /// Allowed: answer 204 with these headers.
    Allowed(HeaderMap),
    /// The origin or method is not allowed: answer 403 without CORS headers.
    Refused,
}

impl Cors {
    pub fn new(config: &CorsConfig) -> anyhow::Result<Self> {
        let list = |items: &[String], what: &str| {
            HeaderValue::try_from(items.join(", "))
                .map_err(|_| anyhow::anyhow!("cors.{what} has a character headers cannot carry"))
        };
        let methods = config
            .allow_methods
            .iter()
            .map(|m| Method::from_bytes(m.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| anyhow::anyhow!("cors.allow_methods has an invalid method"))?;
        Ok(Self {
            any_origin: config.allow_origins.iter().any(|o| o == "*"),
            origins: config
                .allow_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect(),
            credentials: config.allow_credentials,
            methods,
            allow_methods: list(&config.allow_methods, "allow_methods")?,
            allow_headers: list(&config.allow_headers, "allow_headers")?,
            expose_headers: list(&config.expose_headers, "expose_headers")?,
            max_age: HeaderValue::from(config.max_age_secs),
        })
    }

    /// The origin of a cross-origin request, when it is allowed.
    fn allowed<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        let text = origin.to_str().ok()?;
        (self.any_origin || self.origins.iter().any(|o| o == text)).then_some(origin)
    }

    fn origin_headers(&self, origin: &HeaderValue, out: &mut HeaderMap) {
        if self.any_origin {
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        } else {
            out.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            out.append(VARY, HeaderValue::from_static("origin"));
        }
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// The answer to `OPTIONS` with an `Origin` and `Access-Control-Request-Method`; `None`
    /// when the request is not a preflight.
    pub fn preflight(&self, method: &Method, headers: &HeaderMap) -> Option<Preflight> {
        if method != Method::OPTIONS || !headers.contains_key(ORIGIN) {
            return None;
        }
        let requested = headers.get(ACCESS_CONTROL_REQUEST_METHOD)?;
        let Some(origin) = self.allowed(headers) else {
            return Some(Preflight::Refused);
        };
        if !self
            .methods
            .iter()
            .any(|m| m.as_str().as_bytes() == requested.as_bytes())
        {
            return Some(Preflight::Refused);
        }
        let mut out = HeaderMap::new();
        self.origin_headers(origin, &mut out);
        out.insert(ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods.clone());
        out.insert(ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers.clone());
        out.insert(ACCESS_CONTROL_MAX_AGE, self.max_age.clone());
        Some(Preflight::Allowed(out))
    }

    /// Adds the CORS headers for an actual request's response.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        if let Some(origin) = self.allowed(request) {
            self.origin_headers(origin, response);
            response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, self.expose_headers.clone());
        }
    }
}
