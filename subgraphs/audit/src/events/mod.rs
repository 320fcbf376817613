//! Audit's side of the event flow: it reads every domain topic and appends each event to the
//! log once. It publishes nothing, so nothing it does comes back to it.

use async_trait::async_trait;
use tessera_kit::events::{Envelope, EventHandler, HandlerError};

use crate::domain;
use crate::store::{NewEntry, Store};

/// The services whose topics the log records. Audit itself is not one of them.
pub const AUDITED_SERVICES: [&str; 5] = ["identity", "auth", "authz", "blog", "billing"];

/// Appends every event it is handed to the log, once per event id.
pub struct Recorder {
    pub store: Store,
}

#[async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError> {
        // Redeliveries are the common duplicate; they need neither the chain lock nor a
        // sequence number.
        if self.store.contains(event.id).await? {
            return Ok(());
        }
        if let Some(reason) = domain::unrecordable(event) {
            return Err(HandlerError::Permanent(format!(
                "event cannot be recorded: {reason}"
            )));
        }
        let data = self.store.jsonb_text(&event.data).await?;
        let entry = NewEntry {
            event_id: event.id,
            kind: &event.kind,
            source: &event.source,
            subject: &event.subject,
            actor: event.actor.as_deref(),
            occurred_at: event.time,
            data: &data,
        };
        if let Some(seq) = self.store.append(&entry).await? {
            tracing::debug!(seq, event_id = %event.id, event_type = %event.kind, "event recorded");
        }
        Ok(())
    }
}
