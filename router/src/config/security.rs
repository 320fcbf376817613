//! Who may see what, and which browsers may call: authorization directives, CORS and CSRF
//! prevention.

use serde::Deserialize;

/// How `@authenticated`, `@requiresScopes` and `@policy` in the supergraph are enforced.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationConfig {
    /// `filter`: unauthorized fields are removed, answered as null and reported with
    /// `UNAUTHORIZED_FIELD_OR_TYPE`; `reject`: the whole request is refused.
    #[serde(default)]
    pub mode: AuthorizationMode,
    /// Decides `@policy` names. Without it, every policy is denied.
    #[serde(default)]
    pub policy_hook: Option<PolicyHookConfig>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorizationMode {
    #[default]
    Filter,
    Reject,
}

/// An HTTP endpoint that decides policies. It receives
/// `{"policies": ["name", ...], "claims": {...} | null}` as a POST and answers
/// `{"allowed": ["name", ...]}`. A hook that fails or is late denies every policy.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyHookConfig {
    pub url: String,
    /// How long the hook may take, in milliseconds.
    #[serde(default = "default_hook_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_hook_timeout_ms() -> u64 {
    500
}

/// Cross-origin requests from browsers. Without allowed origins, no CORS headers are sent and
/// browsers keep pages of other origins from reading responses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsConfig {
    /// Origins allowed to call, exactly as browsers send them (`https://app.example.com`);
    /// `"*"` allows any origin (and cannot be combined with credentials).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Let browsers send cookies and read the response (`Access-Control-Allow-Credentials`).
    #[serde(default)]
    pub allow_credentials: bool,
    /// Methods allowed in preflighted requests.
    #[serde(default = "default_methods")]
    pub allow_methods: Vec<String>,
    /// Request headers allowed in preflighted requests.
    #[serde(default = "default_allow_headers")]
    pub allow_headers: Vec<String>,
    /// Response headers pages may read.
    #[serde(default = "default_expose_headers")]
    pub expose_headers: Vec<String>,
    /// How long browsers may cache a preflight answer, in seconds.
    #[serde(default = "default_max_age_secs")]
    pub max_age_secs: u64,
}

impl Default for CorsConfig {
    fn default() -> Self {
        Self {
            allow_origins: Vec::new(),
            allow_credentials: false,
            allow_methods: default_methods(),
            allow_headers: default_allow_headers(),
            expose_headers: default_expose_headers(),
            max_age_secs: default_max_age_secs(),
        }
    }
}

fn default_methods() -> Vec<String> {
    // PUT and DELETE: GraphQL over SSE's single connection mode.
    ["GET", "POST", "PUT", "DELETE", "OPTIONS"]
        .map(str::to_owned)
        .to_vec()
}

fn default_allow_headers() -> Vec<String> {
    [
        "content-type",
        "authorization",
        "x-tessera-csrf",
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "graphql-preflight",
        "x-tessera-query-plan",
        "x-graphql-event-stream-token",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_expose_headers() -> Vec<String> {
    [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_max_age_secs() -> u64 {
    600
}

/// Cross-site request forgery prevention. A browser sends some requests ("simple" ones: GET,
/// or POST with a form or text content type, with no header a page had to add) to any site
/// without asking first; such a request is refused with `CSRF_PREVENTED`. A request passes when
/// it has a non-simple `Content-Type` (JSON), or a header a page of another origin cannot add
/// without a CORS preflight: a token in `Authorization` (not the `Basic`/`Digest`/`Negotiate`/
/// `NTLM` credentials browsers attach by themselves), the configured token header, or one of
/// `required_headers`. The rule is in `edge/csrf.rs`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsrfConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Header names (case-insensitive) that mark a request as not simple.
    #[serde(default = "default_csrf_headers")]
    pub required_headers: Vec<String>,
    /// Whether a token in `Authorization` (or in the header `authentication.jwt.header` names)
    /// marks a request as not simple. Turn it off when something in front of the router adds
    /// that header to requests by itself (a proxy that turns a session cookie into a bearer
    /// token): then only `required_headers` and the content type count.
    #[serde(default = "yes")]
    pub token_headers: bool,
}

impl Default for CsrfConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            required_headers: default_csrf_headers(),
            token_headers: true,
        }
    }
}

fn default_csrf_headers() -> Vec<String> {
    [
        "x-tessera-csrf",
        "apollo-require-preflight",
        "x-apollo-operation-name",
        "graphql-preflight",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn yes() -> bool {
    true
}
