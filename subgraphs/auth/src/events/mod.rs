//! Auth's side of the event flow: the scopes access tokens carry follow authz's
//! `scopes.changed`, the absolute set of a user's global permissions after each change.

use async_trait::async_trait;
use serde::Deserialize;
use tessera_kit::db::Db;
use tessera_kit::events::{Envelope, EventHandler, HandlerError, consumer};
use uuid::Uuid;

use crate::store;

/// The `scopes.changed` payload.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopesChanged {
    user_id: Uuid,
    scopes: Vec<String>,
    /// Per-user and increasing: orders a user's changes.
    version: i64,
}

/// Replaces a user's granted scopes with each `scopes.changed`, once per event id, unless a
/// later change of that user was applied already. Tokens issued afterwards (sign-in, refresh)
/// carry the new scopes; tokens issued before keep theirs until they expire.
pub struct ScopeSync {
    pub pool: Db,
}

#[async_trait]
impl EventHandler for ScopeSync {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.kind != "scopes.changed" {
            return Ok(());
        }
        let payload: ScopesChanged = serde_json::from_value(event.data.clone())
            .map_err(|e| HandlerError::Permanent(format!("bad scopes.changed payload: {e}")))?;
        let Some(mut tx) = consumer::begin_once(&self.pool, crate::NAME, event.id).await? else {
            return Ok(());
        };
        let applied = store::replace_granted_scopes(
            &mut tx,
            payload.user_id,
            &payload.scopes,
            payload.version,
            (event.id, event.time),
        )
        .await?;
        tx.commit().await?;
        if !applied {
            tracing::debug!(user_id = %payload.user_id, version = payload.version, "stale or unknown-user scopes.changed ignored");
        }
        Ok(())
    }
}
