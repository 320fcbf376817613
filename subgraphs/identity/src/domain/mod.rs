//! The user model and the rules its mutations follow.

use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use uuid::Uuid;

/// A user's account state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
pub enum UserStatus {
    Active,
    Suspended,
    Deactivated,
}

impl UserStatus {
    pub fn from_db(value: &str) -> Self {
        match value {
            "SUSPENDED" => Self::Suspended,
            "DEACTIVATED" => Self::Deactivated,
            _ => Self::Active,
        }
    }
}

/// A user and their profile.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub status: UserStatus,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 100;

/// Trims a display name and checks its length.
pub fn display_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DISPLAY_NAME {
        return Err(ApiError::bad_input(format!(
            "displayName must be 1 to {MAX_DISPLAY_NAME} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_input(
            "displayName must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

/// Event types identity publishes.
pub mod event_types {
    pub const USER_REGISTERED: &str = "user.registered";
    pub const USER_EMAIL_VERIFIED: &str = "user.email_verified";
    pub const USER_UPDATED: &str = "user.updated";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name("  Ada ").expect("valid"), "Ada");
        assert!(display_name("   ").is_err());
        assert!(display_name(&"x".repeat(101)).is_err());
        assert!(display_name("a\u{0}b").is_err());
    }
}
