//! The `User` entity (owned by identity) with the audit trail this subgraph adds, and the
//! loader that reads the trails of many users in one statement.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, Object};
use tessera_kit::page::Window;
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use super::types::{self, EventConnection};
use crate::domain::{AUDIT_READ, AuditEvent};
use crate::store::{Store, TrailKey};

/// A user, known here by id only.
pub struct User {
    pub id: Uuid,
}

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The events this user caused or that are about them, newest first. Visible to the user
    /// and to holders of `audit:read`.
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<EventConnection> {
        let who = caller::require(ctx)?;
        if who.user_id != self.id && !who.has_scope(AUDIT_READ) {
            return Err(ApiError::forbidden(
                "only the user and holders of audit:read see an audit trail",
            )
            .into());
        }
        let window = Window::<OpaqueCursor<i64>>::new(first, after)?;
        let key = TrailKey {
            user: self.id,
            limit: window.limit(),
            before: window.after.as_ref().map(|c| c.0),
        };
        let events = ctx
            .data_unchecked::<DataLoader<TrailLoader>>()
            .load_one(key)
            .await
            .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?
            .unwrap_or_default();
        Ok(types::page(&window, events))
    }
}

/// Loads pages of trails, many users per statement.
pub struct TrailLoader(pub Store);

impl Loader<TrailKey> for TrailLoader {
    type Value = Vec<AuditEvent>;
    type Error = Arc<sqlx::Error>;

    async fn load(
        &self,
        keys: &[TrailKey],
    ) -> Result<HashMap<TrailKey, Vec<AuditEvent>>, Self::Error> {
        let rows = self.0.trails(keys).await.map_err(Arc::new)?;
        let mut pages: HashMap<TrailKey, Vec<AuditEvent>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for (key, event) in rows {
            pages.entry(key).or_default().push(event);
        }
        Ok(pages)
    }
}

/// Parses an `ID` argument as a user id.
pub fn user_id(id: &ID) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input("not a user id"))
}
