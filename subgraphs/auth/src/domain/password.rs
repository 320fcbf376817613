//! Passwords: argon2id with OWASP's recommended parameters, hashed off the async workers.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tessera_kit::ApiError;

/// Shortest accepted password, in characters.
pub const MIN_LENGTH: usize = 8;
/// Longest accepted password, in bytes: bounds the hashing work one request can ask for.
pub const MAX_BYTES: usize = 256;

fn hasher() -> Argon2<'static> {
    // 19 MiB, 2 passes, 1 lane (OWASP password storage cheat sheet, argon2id).
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when an email is unknown so that a miss takes as
/// long as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("tessera-dummy-password").expect("hashing a constant password succeeds")
});

/// Checks the password policy.
pub fn check_policy(password: &str) -> Result<(), ApiError> {
    if password.len() > MAX_BYTES {
        return Err(ApiError::bad_input(format!(
            "password must be at most {MAX_BYTES} bytes"
        )));
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(ApiError::bad_input(format!(
            "password must be at least {MIN_LENGTH} characters"
        )));
    }
    Ok(())
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?
        .to_string())
}

/// Hashes `password` (PHC string).
pub async fn hash(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(&password)).await?
}

/// Whether `password` matches `stored`; with no stored hash, spends the same time and fails.
pub async fn verify(password: String, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let (phc, known) = match &stored {
            Some(phc) => (phc.as_str(), true),
            None => (DUMMY_HASH.as_str(), false),
        };
        let parsed =
            PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("stored hash is not PHC: {e}"))?;
        Ok(known
            && hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok())
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_and_verifies() {
        let phc = hash("correct horse".into()).await.expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("correct horse".into(), Some(phc.clone()))
                .await
                .expect("verify")
        );
        assert!(
            !verify("wrong horse".into(), Some(phc))
                .await
                .expect("verify")
        );
        assert!(!verify("anything".into(), None).await.expect("verify"));
    }

    #[test]
    fn policy_bounds_length() {
        assert!(check_policy("short").is_err());
        assert!(check_policy(&"x".repeat(MAX_BYTES + 1)).is_err());
        assert!(check_policy("long enough").is_ok());
    }
}
