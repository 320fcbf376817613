//! Identity's side of the event flow: users are projected from `auth.signed_up`, and each
//! projection publishes `user.registered` in the same transaction.

use async_trait::async_trait;
use serde::Deserialize;
use tessera_kit::events::{Envelope, EventHandler, HandlerError, Outbox, consumer};
use uuid::Uuid;

use crate::domain::event_types;
use crate::store::{self, Store};

/// The `auth.signed_up` payload identity needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedUp {
    user_id: Uuid,
    email: String,
    display_name: String,
}

/// Applies auth events to the users table, once per event id.
pub struct Projection {
    pub store: Store,
    pub outbox: Outbox,
}

#[async_trait]
impl EventHandler for Projection {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        if event.kind != "auth.signed_up" {
            return Ok(());
        }
        let payload: SignedUp = serde_json::from_value(event.data.clone())
            .map_err(|e| HandlerError::Permanent(format!("bad auth.signed_up payload: {e}")))?;
        let Some(mut tx) = consumer::begin_once(self.store.pool(), crate::NAME, event.id).await?
        else {
            return Ok(());
        };
        if store::insert_user(
            &mut tx,
            payload.user_id,
            &payload.email,
            &payload.display_name,
        )
        .await?
        {
            let registered = Envelope::new(
                crate::NAME,
                event_types::USER_REGISTERED,
                payload.user_id.to_string(),
                Some(payload.user_id.to_string()),
                serde_json::json!({
                    "userId": payload.user_id,
                    "email": payload.email,
                    "displayName": payload.display_name,
                }),
            );
            self.outbox.enqueue(&mut tx, &registered).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }
}
