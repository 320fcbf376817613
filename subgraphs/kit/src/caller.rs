//! Who is calling: verification of the access token the router forwards.
//!
//! No service trusts the network: each one checks the JWT itself against the auth service's
//! JWKS. Keys are fetched once, cached by `kid`, and fetched again when a token names a `kid` the
//! cache does not know (key rotation), at most once per `min_refresh_interval_ms`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use uuid::Uuid;

use crate::config::JwtConfig;
use crate::error::{ApiError, ApiResult};

/// The only signature algorithms Tessera issues and accepts. HMAC and RSA are refused outright,
/// which closes the door on algorithm-confusion attacks.
pub const ACCEPTED_ALGORITHMS: [Algorithm; 2] = [Algorithm::EdDSA, Algorithm::ES256];

/// The claims of a Tessera access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    /// Space-separated scopes (RFC 8693 `scope`).
    #[serde(default)]
    pub scope: String,
}

/// The verified caller, available to resolvers as request data.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: Uuid,
    pub token_id: String,
    pub scopes: Vec<String>,
    /// When the token was issued (seconds since the epoch).
    pub issued_at: i64,
    pub expires_at: i64,
    /// The raw token, for calls this service makes on the caller's behalf.
    pub token: crate::config::Secret<String>,
}

impl Caller {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Fails with FORBIDDEN unless the caller holds `scope`.
    pub fn require_scope(&self, scope: &str) -> ApiResult<()> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("requires the {scope} scope")))
        }
    }
}

/// The network address of the client, as request data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub std::net::IpAddr);

/// The authenticated caller of the current GraphQL request, or UNAUTHENTICATED.
pub fn require(ctx: &async_graphql::Context<'_>) -> ApiResult<Caller> {
    ctx.data_opt::<Caller>()
        .cloned()
        .ok_or_else(ApiError::unauthenticated)
}

/// Why a token was refused. The message is safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    UnsupportedAlgorithm,
    #[error("the token was signed by an unknown key")]
    UnknownKey,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the signing keys cannot be fetched right now")]
    KeysUnavailable,
}

impl From<TokenError> for ApiError {
    /// A token presented in the request's data rather than its `Authorization` header (an
    /// entity key, an argument) that does not verify: the field fails as unauthenticated.
    fn from(err: TokenError) -> Self {
        let code = match err {
            // Not the token's fault: the keys to check it cannot be had right now.
            TokenError::KeysUnavailable => crate::error::ErrorCode::ServiceUnavailable,
            TokenError::Malformed
            | TokenError::UnsupportedAlgorithm
            | TokenError::UnknownKey
            | TokenError::Expired
            | TokenError::NotYetValid
            | TokenError::BadSignature
            | TokenError::WrongIssuer
            | TokenError::WrongAudience => crate::error::ErrorCode::Unauthenticated,
        };
        ApiError::client(code, err.to_string())
    }
}

struct VerifyingKey {
    key: DecodingKey,
    algorithm: Algorithm,
}

struct KeyCache {
    keys: HashMap<String, VerifyingKey>,
}

enum KeySource {
    Url(reqwest::Client, String),
    Fixed,
}

/// Verifies access tokens against a JWKS.
pub struct TokenVerifier {
    source: KeySource,
    validation_template: Validation,
    cache: RwLock<KeyCache>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl TokenVerifier {
    /// A verifier that fetches keys from `config.jwks_url`.
    pub fn from_config(config: &JwtConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a reqwest client with only a timeout set always builds");
        Self::new(
            KeySource::Url(http, config.jwks_url.clone()),
            config,
            JwkSet { keys: vec![] },
        )
    }

    /// A verifier with a fixed key set (tests, file-based deployments).
    pub fn from_jwks(config: &JwtConfig, jwks: JwkSet) -> Self {
        Self::new(KeySource::Fixed, config, jwks)
    }

    fn new(source: KeySource, config: &JwtConfig, jwks: JwkSet) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[config.issuer.as_str()]);
        validation.set_audience(&[config.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = config.leeway_secs;
        validation.validate_nbf = true;
        Self {
            source,
            validation_template: validation,
            cache: RwLock::new(KeyCache {
                keys: parse_jwks(&jwks),
            }),
            last_fetch: Mutex::new(None),
            min_refresh: Duration::from_millis(config.min_refresh_interval_ms),
        }
    }

    /// Verifies `token` and returns the caller it names.
    pub async fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let kid = header.kid.ok_or(TokenError::Malformed)?;
        if !self.cache.read().await.keys.contains_key(&kid) {
            self.refresh(&kid).await?;
        }
        let cache = self.cache.read().await;
        let key = cache.keys.get(&kid).ok_or(TokenError::UnknownKey)?;
        // The key decides the algorithm, never the token alone.
        if key.algorithm != header.alg {
            return Err(TokenError::UnsupportedAlgorithm);
        }
        let mut validation = self.validation_template.clone();
        validation.algorithms = vec![key.algorithm];
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.key, &validation)
            .map_err(map_jwt_error)?;
        let claims = data.claims;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| TokenError::Malformed)?;
        Ok(Caller {
            user_id,
            token_id: claims.jti,
            scopes: claims.scope.split_whitespace().map(str::to_owned).collect(),
            issued_at: claims.iat,
            expires_at: claims.exp,
            token: crate::config::Secret::new(token.to_owned()),
        })
    }

    /// Fetches the key set again because `kid` is unknown. Fetches are at least the minimum
    /// interval apart: a request that comes sooner waits for the next slot (all waiters share
    /// one fetch), so a rotation is picked up at once while a flood of made-up `kid`s costs the
    /// auth service at most one JWKS request per interval.
    async fn refresh(&self, kid: &str) -> Result<(), TokenError> {
        let KeySource::Url(http, url) = &self.source else {
            return Ok(());
        };
        let mut last = self.last_fetch.lock().await;
        if self.cache.read().await.keys.contains_key(kid) {
            return Ok(());
        }
        if let Some(wait) = last.and_then(|at| self.min_refresh.checked_sub(at.elapsed())) {
            tokio::time::sleep(wait).await;
        }
        *last = Some(Instant::now());
        let jwks = fetch_jwks(http, url).await.map_err(|err| {
            tracing::warn!(error = format!("{err:#}"), "JWKS fetch failed");
            TokenError::KeysUnavailable
        })?;
        let keys = parse_jwks(&jwks);
        tracing::debug!(keys = keys.len(), "JWKS refreshed");
        self.cache.write().await.keys = keys;
        Ok(())
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> anyhow::Result<JwkSet> {
    let response = http.get(url).send().await?.error_for_status()?;
    Ok(response.json::<JwkSet>().await?)
}

fn parse_jwks(jwks: &JwkSet) -> HashMap<String, VerifyingKey> {
    jwks.keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let algorithm = match &jwk.algorithm {
                AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
                    Algorithm::ES256
                }
                // RSA and symmetric keys are never accepted, whatever the JWKS says.
                _ => return None,
            };
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, VerifyingKey { key, algorithm }))
        })
        .collect()
}

fn map_jwt_error(err: jsonwebtoken::errors::Error) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match err.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::InvalidAudience => TokenError::WrongAudience,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            TokenError::UnsupportedAlgorithm
        }
        _ => TokenError::Malformed,
    }
}
