//! Sessions: short-lived access JWTs and opaque refresh tokens that rotate on every use.

use chrono::Utc;
use tessera_kit::caller::AccessClaims;
use uuid::Uuid;

/// Builds the claims of an access token for `user_id` with `scopes`, valid `ttl_secs`.
pub fn access_claims(
    user_id: Uuid,
    scopes: &[String],
    issuer: &str,
    audience: &str,
    ttl_secs: u64,
) -> AccessClaims {
    let now = Utc::now().timestamp();
    AccessClaims {
        sub: user_id.to_string(),
        iss: issuer.to_owned(),
        aud: audience.to_owned(),
        iat: now,
        nbf: Some(now),
        exp: now + i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2),
        jti: Uuid::now_v7().to_string(),
        scope: scopes.join(" "),
    }
}

/// What happened to a refresh token presented for rotation.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Live: rotate it.
    Rotate { family_id: Uuid, user_id: Uuid },
    /// Already spent: someone replayed it, so the family is revoked.
    Reused { family_id: Uuid, user_id: Uuid },
    /// Unknown, expired, or its family is revoked.
    Invalid,
}
