//! The `User` entity and its batch loader.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use crate::domain::{User, UserStatus};
use crate::store::Store;

/// A user as the schema shows it, and to whom.
pub struct UserNode(pub User, Viewer);

/// Whose eyes a user's private fields are checked against.
enum Viewer {
    /// The caller of the request (its `Authorization` header).
    Caller,
    /// The user themself, proven by something the request presented as data rather than in its
    /// header: the access token of a sign-in that has just happened, the link of a mailed
    /// verification.
    Owner,
}

impl UserNode {
    /// `user` as the request's caller sees it.
    pub fn new(user: User) -> Self {
        Self(user, Viewer::Caller)
    }

    /// `user` as they see themselves.
    pub fn to_owner(user: User) -> Self {
        Self(user, Viewer::Owner)
    }

    /// Whether the viewer may see this user's private fields: the user themself, or a holder of
    /// `users:read`.
    fn private_fields_visible(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        if let Viewer::Owner = self.1 {
            return Ok(());
        }
        let who = caller::require(ctx)?;
        if who.user_id != self.0.id && !who.has_scope("users:read") {
            return Err(ApiError::forbidden(
                "only the user and holders of users:read see an email",
            )
            .into());
        }
        Ok(())
    }
}

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Visible to the user themselves and to holders of `users:read`.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        self.private_fields_visible(ctx)?;
        Ok(&self.0.email)
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn status(&self) -> UserStatus {
        self.0.status
    }

    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Loads users by id, many per query.
pub struct UserLoader(pub Store);

impl Loader<Uuid> for UserLoader {
    type Value = User;
    type Error = std::sync::Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, User>, Self::Error> {
        let users = self
            .0
            .users_by_ids(keys)
            .await
            .map_err(std::sync::Arc::new)?;
        Ok(users.into_iter().map(|u| (u.id, u)).collect())
    }
}

/// Parses an `ID` argument as a user id.
pub fn user_id(id: &ID) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input("not a user id"))
}
