//! Tokens forged with the auth service's real signing key (read from its schema), so tests can
//! present expired, mis-addressed or tampered tokens that differ from a real one in one way only.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::Value;

/// The current signing key of the auth service: (kid, private PEM).
pub async fn current_key(auth: &sqlx::PgPool) -> anyhow::Result<(String, String)> {
    Ok(sqlx::query_as("SELECT kid, private_pem FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC LIMIT 1")
        .fetch_one(auth)
        .await?)
}

/// Signs `claims` with the auth service's current key.
pub async fn sign(auth: &sqlx::PgPool, claims: &Value) -> anyhow::Result<String> {
    let (kid, pem) = current_key(auth).await?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid);
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_pem(pem.as_bytes())?,
    )?)
}

/// The claims of a JWT, without verifying it.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON claims")
}

/// The header of a JWT, without verifying it.
pub fn header(token: &str) -> Value {
    let header = token.split('.').next().expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url"))
        .expect("JSON header")
}

/// `header.payload.signature` with the given parts re-encoded (for `alg: none` and tampering).
pub fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).expect("JSON")),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("JSON")),
        signature
    )
}
