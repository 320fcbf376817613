//! Authentication settings: which JWTs the router accepts and where their keys come from.

use std::path::PathBuf;

use jsonwebtoken::Algorithm;
use serde::Deserialize;

/// How callers are authenticated.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationConfig {
    /// Bearer JWTs checked against JWKS keys. Absent: no authentication, and tokens are ignored.
    #[serde(default)]
    pub jwt: Option<JwtConfig>,
}

/// JWT verification.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtConfig {
    /// Refuse requests that carry no token (`TOKEN_MISSING`). A token that is present is always
    /// verified, whether or not it is required.
    #[serde(default)]
    pub required: bool,
    /// Where the verification keys come from; the keys of all sources are merged.
    pub sources: Vec<JwksSource>,
    /// Accepted `iss` values; empty accepts any issuer.
    #[serde(default)]
    pub issuers: Vec<String>,
    /// Accepted `aud` values (a token matches if any of its audiences is listed); empty leaves
    /// the audience unchecked.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Accepted signature algorithms. HMAC (`HS*`) is accepted only if listed, and only with
    /// `oct` keys.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// The request header that carries the token.
    #[serde(default)]
    pub header: TokenHeaderConfig,
    /// A cookie that carries the token when the header is absent (the header wins).
    #[serde(default)]
    pub cookie: Option<String>,
    /// Clock skew tolerated when checking `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// The shortest gap between two key refreshes triggered by an unknown `kid`, in
    /// milliseconds. Requests arriving sooner wait for the next slot.
    #[serde(default = "default_min_refresh_interval_ms")]
    pub min_refresh_interval_ms: u64,
    /// How many verified tokens to remember, so a repeated token costs no signature check;
    /// 0 disables the cache.
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
}

impl JwtConfig {
    /// Verification against one JWKS URL, for `issuer` and `audience`, with the defaults
    /// for everything else.
    pub fn for_jwks_url(url: &str, issuer: &str, audience: &str) -> Self {
        Self {
            required: false,
            sources: vec![JwksSource::Url(UrlJwksSource {
                url: url.to_owned(),
                poll_interval_secs: default_poll_interval_secs(),
                timeout_ms: default_timeout_ms(),
            })],
            issuers: vec![issuer.to_owned()],
            audiences: vec![audience.to_owned()],
            algorithms: default_algorithms(),
            header: TokenHeaderConfig::default(),
            cookie: None,
            leeway_secs: default_leeway_secs(),
            min_refresh_interval_ms: default_min_refresh_interval_ms(),
            cache_size: default_cache_size(),
        }
    }
}

/// One JWKS: fetched from a URL (`url:`) or read from a file (`file:`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum JwksSource {
    /// A JWKS endpoint, polled in the background and fetched again on an unknown `kid`.
    Url(UrlJwksSource),
    /// A JWKS file, read when the router (or its configuration) is loaded.
    File(FileJwksSource),
}

/// A JWKS served over HTTP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlJwksSource {
    /// The JWKS address, e.g. `http://auth:8081/.well-known/jwks.json`.
    pub url: String,
    /// How often the JWKS is fetched again in the background, in seconds (at least 1).
    #[serde(default = "default_poll_interval_secs")]
    pub poll_interval_secs: u64,
    /// How long one fetch may take, connection included, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

/// A JWKS stored in a file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJwksSource {
    /// The file's path, relative to the router's working directory.
    pub file: PathBuf,
}

/// Where in the request the token is found.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenHeaderConfig {
    /// The header name (case-insensitive).
    #[serde(default = "default_header_name")]
    pub name: String,
    /// The scheme before the token, matched case-insensitively and followed by a space; empty
    /// takes the whole header value as the token.
    #[serde(default = "default_header_prefix")]
    pub prefix: String,
}

impl Default for TokenHeaderConfig {
    fn default() -> Self {
        Self {
            name: default_header_name(),
            prefix: default_header_prefix(),
        }
    }
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![
        Algorithm::EdDSA,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ]
}

fn default_leeway_secs() -> u64 {
    30
}

fn default_min_refresh_interval_ms() -> u64 {
    1000
}

fn default_cache_size() -> usize {
    4096
}

fn default_poll_interval_secs() -> u64 {
    300
}

fn default_timeout_ms() -> u64 {
    2000
}

fn default_header_name() -> String {
    "authorization".to_owned()
}

fn default_header_prefix() -> String {
    "Bearer".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_full_jwt_section() {
        let config: AuthenticationConfig = serde_yaml::from_str(
            r#"
jwt:
  required: true
  sources:
    - url: http://auth:8081/.well-known/jwks.json
      poll_interval_secs: 60
      timeout_ms: 500
    - file: keys/jwks.json
  issuers: [https://issuer]
  audiences: [api]
  algorithms: [EdDSA, RS256]
  header: { name: x-token, prefix: "" }
  cookie: access_token
  leeway_secs: 0
  min_refresh_interval_ms: 10
  cache_size: 0
"#,
        )
        .expect("the example parses");
        let jwt = config.jwt.expect("jwt is set");
        assert!(jwt.required);
        assert_eq!(
            jwt.sources,
            vec![
                JwksSource::Url(UrlJwksSource {
                    url: "http://auth:8081/.well-known/jwks.json".into(),
                    poll_interval_secs: 60,
                    timeout_ms: 500,
                }),
                JwksSource::File(FileJwksSource {
                    file: "keys/jwks.json".into()
                }),
            ]
        );
        assert_eq!(jwt.algorithms, vec![Algorithm::EdDSA, Algorithm::RS256]);
        assert_eq!(jwt.header.name, "x-token");
        assert_eq!(jwt.cookie.as_deref(), Some("access_token"));
    }

    #[test]
    fn defaults_leave_hmac_out_and_read_the_bearer_header() {
        let config: AuthenticationConfig =
            serde_yaml::from_str("jwt: { sources: [{ file: jwks.json }] }").expect("parses");
        let jwt = config.jwt.expect("jwt is set");
        assert!(!jwt.required);
        assert_eq!(jwt.header, TokenHeaderConfig::default());
        assert_eq!(jwt.algorithms, default_algorithms());
        assert!(
            !jwt.algorithms
                .iter()
                .any(|alg| matches!(alg, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        );
        assert_eq!(jwt.cache_size, 4096);
    }

    #[test]
    fn rejects_unknown_keys_in_a_source() {
        let result: Result<AuthenticationConfig, _> = serde_yaml::from_str(
            "jwt: { sources: [{ url: http://auth/jwks.json, file: jwks.json }] }",
        );
        assert!(result.is_err());
        let result: Result<AuthenticationConfig, _> =
            serde_yaml::from_str("jwt: { sources: [{ file: jwks.json }], issuer: x }");
        assert!(result.is_err());
    }
}
