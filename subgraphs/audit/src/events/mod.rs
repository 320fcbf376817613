//! Audit's side of the event flow: it reads every other domain topic and appends each event to
//! the log once. For each append it publishes `audit.recorded` on its own topic, in the same
//! transaction, so every instance's live feed learns of records whichever instance made them.
//! Audit never consumes its own topic: nothing it publishes comes back to the log.
//!
//! | type | when | data |
//! |---|---|---|
//! | `audit.recorded` | an event was appended to the log | `seq`, `eventId`, `type`, `source`, `subject`, `actor`, `occurredAt` of the record |

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use tessera_kit::events::{Envelope, EventHandler, HandlerError, Outbox};

use crate::domain;
use crate::store::{self, NewEntry, Store};

/// The services whose topics the log records. Audit itself is not one of them.
pub const AUDITED_SERVICES: [&str; 5] = ["identity", "auth", "authz", "blog", "billing"];

pub const AUDIT_RECORDED: &str = "audit.recorded";

/// The subject of every `audit.recorded`: the log itself, so the announcements share one
/// partition and arrive in the order of the log.
pub const LOG_SUBJECT: &str = "audit_log";

/// `audit.recorded`: the log holds `event` at `seq`. It carries what the log's filters match
/// on, so a subscriber can pass over a record without reading it.
pub fn recorded(seq: i64, event: &Envelope) -> Envelope {
    let mut announcement = Envelope::new(
        crate::NAME,
        AUDIT_RECORDED,
        LOG_SUBJECT,
        None,
        json!({
            "seq": seq,
            "eventId": event.id,
            "type": event.kind,
            "source": event.source,
            "subject": event.subject,
            "actor": event.actor,
            // As the log stores it, so filters compare the same instant here and there.
            "occurredAt": domain::chain::stored_instant(event.time),
        }),
    );
    // The record continues the trace of the event it records.
    announcement.traceparent.clone_from(&event.traceparent);
    announcement
}

/// What an `audit.recorded` event says about the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub seq: i64,
    pub kind: String,
    pub subject: String,
    pub actor: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

/// The record an `audit.recorded` event announces; `None` for any other event.
pub fn recorded_of(event: &Envelope) -> Option<Recorded> {
    if event.kind != AUDIT_RECORDED {
        return None;
    }
    let data = &event.data;
    Some(Recorded {
        seq: data.get("seq")?.as_i64()?,
        kind: data.get("type")?.as_str()?.to_owned(),
        subject: data.get("subject")?.as_str()?.to_owned(),
        actor: data.get("actor")?.as_str().map(str::to_owned),
        occurred_at: serde_json::from_value(data.get("occurredAt")?.clone()).ok()?,
    })
}

/// Appends every event it is handed to the log, once per event id, and announces each append.
pub struct Recorder {
    pub store: Store,
    pub outbox: Outbox,
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
        let mut tx = self.store.pool().begin().await?;
        let Some(seq) = store::append(&mut tx, &entry).await? else {
            tx.rollback().await?;
            return Ok(());
        };
        self.outbox.enqueue(&mut tx, &recorded(seq, event)).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::debug!(seq, event_id = %event.id, event_type = %event.kind, "event recorded");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_reads_back_the_record_it_names() {
        let event = Envelope::new(
            "blog",
            "post.published",
            "p1",
            Some("u1".to_owned()),
            json!({ "x": 1 }),
        );
        let announcement = recorded(42, &event);
        assert_eq!(announcement.source, crate::NAME);
        assert_eq!(announcement.subject, LOG_SUBJECT);
        assert_eq!(
            recorded_of(&announcement),
            Some(Recorded {
                seq: 42,
                kind: "post.published".to_owned(),
                subject: "p1".to_owned(),
                actor: Some("u1".to_owned()),
                occurred_at: crate::domain::chain::stored_instant(event.time),
            })
        );
        assert_eq!(recorded_of(&event), None);
    }
}
