//! Roles, permissions and assignments, and the rules they follow.
//!
//! - this module: the models and the shape of names, permissions and resources.
//! - [`assignments`]: granting and revoking a role, with the events each change publishes.

pub mod assignments;

use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use uuid::Uuid;

/// The built-in role that holds every permission; bootstrap administrators receive it.
pub const ADMIN_ROLE: &str = "admin";

/// The permission that opens the role mutations.
pub const MANAGE_ROLES: &str = "roles:manage";

/// The permission that lets a caller read other users' private fields.
pub const READ_USERS: &str = "users:read";

/// Event types authz publishes.
pub mod event_types {
    pub const ROLE_CREATED: &str = "role.created";
    pub const ROLE_GRANTED: &str = "role.granted";
    pub const ROLE_REVOKED: &str = "role.revoked";
    /// A user's global permissions after a change: the absolute set, so consumers replace.
    pub const SCOPES_CHANGED: &str = "scopes.changed";
}

/// One entry of the permission vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub name: String,
    pub description: String,
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
}

/// A role held by a user, globally (`resource` is `None`) or on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub id: Uuid,
    pub user_id: Uuid,
    pub role: Role,
    pub resource: Option<String>,
    pub granted_by: Option<Uuid>,
    pub granted_at: DateTime<Utc>,
}

/// Longest part of a permission on either side of the colon.
const MAX_PERMISSION_PART: usize = 48;
/// Longest role name.
pub const MAX_ROLE_NAME: usize = 64;
/// Longest role description.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest resource an assignment is scoped to.
pub const MAX_RESOURCE: usize = 200;

fn is_name_part(part: &str, max: usize) -> bool {
    let mut chars = part.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && part.len() <= max
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Checks that `raw` has the shape `resource:action` (lower-case ASCII, digits, `_`, `-`).
pub fn permission(raw: &str) -> Result<String, ApiError> {
    let valid = raw.split_once(':').is_some_and(|(resource, action)| {
        is_name_part(resource, MAX_PERMISSION_PART) && is_name_part(action, MAX_PERMISSION_PART)
    });
    if valid {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad_input(format!(
            "permission {raw:?} must look like resource:action (lower-case letters, digits, _ and -)"
        )))
    }
}

/// Checks every permission of a new role; returns them sorted without duplicates.
pub fn permissions(raw: &[String]) -> Result<Vec<String>, ApiError> {
    let mut checked = raw
        .iter()
        .map(|p| permission(p))
        .collect::<Result<Vec<_>, _>>()?;
    checked.sort();
    checked.dedup();
    Ok(checked)
}

/// Trims a role name and checks its shape: a lower-case letter, then letters, digits, `_`, `-`.
pub fn role_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    if is_name_part(name, MAX_ROLE_NAME) {
        Ok(name.to_owned())
    } else {
        Err(ApiError::bad_input(format!(
            "role name must be 1 to {MAX_ROLE_NAME} characters: a lower-case letter, then lower-case letters, digits, _ or -"
        )))
    }
}

/// Trims a role description and checks its length.
pub fn description(raw: &str) -> Result<String, ApiError> {
    let text = raw.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::bad_input(format!(
            "description must be at most {MAX_DESCRIPTION} characters"
        )));
    }
    Ok(text.to_owned())
}

/// Checks the resource an assignment is scoped to: any non-blank text without control
/// characters, at most [`MAX_RESOURCE`] characters (services name their own resources, e.g.
/// `blog:post:42`).
pub fn resource(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > MAX_RESOURCE || text.chars().any(char::is_control)
    {
        return Err(ApiError::bad_input(format!(
            "resource must be 1 to {MAX_RESOURCE} characters without control characters"
        )));
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_have_the_resource_action_shape() {
        for good in [
            "users:read",
            "blog:moderate",
            "a:b",
            "billing-v2:manage_all",
        ] {
            assert!(permission(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "users",
            "users:",
            ":read",
            "Users:read",
            "users:read:all",
            "users :read",
            "1users:read",
            "users:réad",
        ] {
            assert!(permission(bad).is_err(), "{bad}");
        }
        assert!(permission(&format!("{}:read", "x".repeat(49))).is_err());
    }

    #[test]
    fn new_role_permissions_are_sorted_and_deduplicated() {
        let raw = ["users:read", "audit:read", "users:read"].map(str::to_owned);
        assert_eq!(
            permissions(&raw).expect("valid"),
            ["audit:read", "users:read"]
        );
        assert!(permissions(&["users:read".to_owned(), "nope".to_owned()]).is_err());
    }

    #[test]
    fn role_names_and_resources_are_checked() {
        assert_eq!(role_name(" editor ").expect("valid"), "editor");
        assert!(role_name("Editor").is_err());
        assert!(role_name("").is_err());
        assert!(role_name(&"r".repeat(65)).is_err());
        assert_eq!(resource(None).expect("none"), None);
        assert_eq!(
            resource(Some(" blog:post:1 ")).expect("valid"),
            Some("blog:post:1".to_owned())
        );
        assert!(resource(Some("  ")).is_err());
        assert!(resource(Some("a\nb")).is_err());
    }
}
