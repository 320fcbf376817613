//! Authz's side of the event flow: bootstrap administrators. When identity registers a user
//! whose email is in `admin_emails`, the user receives the built-in admin role, with the same
//! events an API grant publishes.

use async_trait::async_trait;
use serde::Deserialize;
use tessera_kit::events::{Envelope, EventHandler, HandlerError, Outbox, consumer};
use uuid::Uuid;

use crate::domain::{ADMIN_ROLE, assignments};
use crate::store::{self, Store};

/// The `user.registered` payload authz needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Registered {
    user_id: Uuid,
    email: String,
}

/// Grants the admin role to newly registered users listed in `admin_emails`, once per event id.
pub struct Bootstrap {
    pub store: Store,
    pub outbox: Outbox,
    pub admin_emails: Vec<String>,
}

impl Bootstrap {
    fn is_admin(&self, email: &str) -> bool {
        self.admin_emails
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(email.trim()))
    }
}

#[async_trait]
impl EventHandler for Bootstrap {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.kind != "user.registered" || self.admin_emails.is_empty() {
            return Ok(());
        }
        let payload: Registered = serde_json::from_value(event.data.clone())
            .map_err(|e| HandlerError::Permanent(format!("bad user.registered payload: {e}")))?;
        if !self.is_admin(&payload.email) {
            return Ok(());
        }
        let Some(mut tx) = consumer::begin_once(self.store.pool(), crate::NAME, event.id).await?
        else {
            return Ok(());
        };
        let role = store::role_by_name(&mut tx, ADMIN_ROLE)
            .await?
            .ok_or_else(|| HandlerError::Permanent("the built-in admin role is missing".into()))?;
        let granted = assignments::grant(
            &mut tx,
            &self.outbox,
            assignments::Change {
                user_id: payload.user_id,
                role: &role,
                resource: None,
                actor: None,
            },
        )
        .await?;
        tx.commit().await?;
        self.outbox.wake();
        if granted.created {
            tracing::info!(user_id = %payload.user_id, "bootstrap administrator granted the admin role");
        }
        Ok(())
    }
}
