//! Idempotency keys: a client names each money-moving request with a key of its choosing; the
//! same key with the same request returns the first result, with a different request it is
//! refused. A request is identified by a fingerprint of its operation and arguments.

use sha2::{Digest as _, Sha256};
use tessera_kit::ApiError;
use uuid::Uuid;

/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;

/// Checks a client's key: 1 to 255 bytes of printable ASCII.
pub fn key(raw: &str) -> Result<String, ApiError> {
    let valid =
        !raw.is_empty() && raw.len() <= MAX_KEY_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad_input(format!(
            "idempotencyKey must be 1 to {MAX_KEY_LEN} printable ASCII characters without spaces"
        )))
    }
}

/// A fingerprint of `operation` with `parts` (its arguments in a fixed order).
pub fn fingerprint(operation: &str, parts: &[&str]) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(operation.as_bytes());
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().to_vec()
}

/// The key the provider deduplicates a request's charge by: stable for (customer, key), so a
/// retry after a crash between charge and commit does not charge twice.
pub fn provider_key(user_id: Uuid, key: &str) -> String {
    let digest = Sha256::new()
        .chain_update(user_id.as_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    format!("req_{}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(key("order-42").is_ok());
        assert!(key("").is_err());
        assert!(key("has space").is_err());
        assert!(key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn fingerprints_separate_arguments() {
        assert_ne!(
            fingerprint("pay", &["ab", "c"]),
            fingerprint("pay", &["a", "bc"])
        );
        assert_eq!(fingerprint("pay", &["a"]), fingerprint("pay", &["a"]));
        assert_ne!(fingerprint("pay", &["a"]), fingerprint("subscribe", &["a"]));
        let user = Uuid::nil();
        assert_eq!(provider_key(user, "k"), provider_key(user, "k"));
        assert_ne!(provider_key(user, "k"), provider_key(user, "l"));
    }
}
