//! The log's GraphQL types, its filter, and the paging its lists share.

use async_graphql::connection::OpaqueCursor;
use async_graphql::{ID, InputObject, Json, Object, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use tessera_kit::page::{Conn, Window};

use crate::domain::chain::{BreakReason, Report};
use crate::domain::{AuditEvent, Filter};

/// A page of the log, newest first; cursors are opaque positions in the log.
pub type EventConnection = Conn<OpaqueCursor<i64>, AuditEventNode>;

/// A page from `events`, read with one row more than the window shows.
pub fn page(window: &Window<OpaqueCursor<i64>>, events: Vec<AuditEvent>) -> EventConnection {
    window.connection(events, |e| OpaqueCursor(e.seq), AuditEventNode)
}

/// One recorded domain event.
pub struct AuditEventNode(pub AuditEvent);

#[Object(name = "AuditEvent")]
impl AuditEventNode {
    /// The event's id (the same as `eventId`), by which clients cache the record.
    async fn id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }

    /// Position in the log: later records have higher numbers.
    async fn seq(&self) -> i64 {
        self.0.seq
    }

    /// The event's own id; the log holds each id once.
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.to_string())
    }

    /// What happened, e.g. `user.updated`.
    #[graphql(name = "type")]
    async fn kind(&self) -> &str {
        &self.0.kind
    }

    /// The service that emitted the event.
    async fn source(&self) -> &str {
        &self.0.source
    }

    /// The entity the event is about, e.g. a user id.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Who caused it, when known (usually a user id).
    async fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }

    /// When the event happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// When the log recorded it.
    async fn recorded_at(&self) -> DateTime<Utc> {
        self.0.recorded_at
    }

    /// The event's payload.
    async fn data(&self) -> Json<&serde_json::Value> {
        Json(&self.0.data)
    }

    /// The hash of the record before this one, hex-encoded.
    async fn prev_hash(&self) -> String {
        hex::encode(&self.0.prev_hash)
    }

    /// SHA-256 over `prevHash` and this record's content, hex-encoded.
    async fn hash(&self) -> String {
        hex::encode(&self.0.hash)
    }
}

/// Narrows the log; every given field must match.
#[derive(Debug, Default, InputObject)]
pub struct AuditEventFilter {
    /// Who caused the event (usually a user id).
    pub actor: Option<String>,
    /// The event type, e.g. `user.updated`.
    #[graphql(name = "type")]
    pub kind: Option<String>,
    /// The entity the event is about.
    pub subject: Option<String>,
    /// Events that happened at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events that happened before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl AuditEventFilter {
    pub fn into_domain(self) -> Result<Filter, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(ApiError::bad_input("from must not be later than to"));
        }
        Ok(Filter {
            actor: self.actor,
            kind: self.kind,
            subject: self.subject,
            from: self.from,
            to: self.to,
        })
    }
}

/// What a walk over the whole chain found.
#[derive(SimpleObject)]
pub struct AuditChainReport {
    /// True when every link holds and the log ends where its chain head says.
    pub ok: bool,
    /// Rows checked, up to and including the first broken one.
    pub rows_checked: i64,
    /// Hex hash of the last row that verified. Kept outside the database, it shows later
    /// whether the log was rewritten up to that point.
    pub last_hash: Option<String>,
    /// The first broken link, or null when the chain is intact.
    pub first_broken: Option<AuditChainBreak>,
}

/// A broken link of the chain.
#[derive(SimpleObject)]
pub struct AuditChainBreak {
    /// The position of the row that does not verify.
    pub seq: i64,
    /// The event id that row holds (or, when rows are missing at the end, held).
    pub event_id: ID,
    pub reason: BreakReason,
}

impl From<Report> for AuditChainReport {
    fn from(report: Report) -> Self {
        Self {
            ok: report.first_broken.is_none(),
            rows_checked: report.rows_checked,
            last_hash: report.last_hash.map(hex::encode),
            first_broken: report.first_broken.map(|b| AuditChainBreak {
                seq: b.seq,
                event_id: ID(b.event_id.to_string()),
                reason: b.reason,
            }),
        }
    }
}
