//! Credentials, signing keys, tokens and the rules around them.
//!
//! - [`accounts`]: sign-up, login, refresh rotation, logout and password reset.
//! - [`password`]: argon2id hashing and the password policy.
//! - [`keys`]: the signing key ring (Ed25519), its JWKS and rotation.
//! - [`session`]: access-token claims and refresh-token issuance rules.

pub mod accounts;
pub mod keys;
pub mod password;
pub mod session;

/// Event types auth publishes.
pub mod event_types {
    pub const SIGNED_UP: &str = "auth.signed_up";
    pub const LOGIN_SUCCEEDED: &str = "auth.login_succeeded";
    pub const LOGIN_FAILED: &str = "auth.login_failed";
    pub const TOKENS_REVOKED: &str = "auth.tokens_revoked";
    pub const PASSWORD_RESET: &str = "auth.password_reset";
}
