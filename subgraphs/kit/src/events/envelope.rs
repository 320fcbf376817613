//! The envelope every domain event travels in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One domain event. Consumers deduplicate on `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique and time-ordered (UUIDv7).
    pub id: Uuid,
    /// What happened, e.g. `user.registered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The service that emitted it.
    pub source: String,
    /// The entity it is about, e.g. a user id; also the partitioning key.
    pub subject: String,
    pub time: DateTime<Utc>,
    /// Who caused it, when known.
    #[serde(default)]
    pub actor: Option<String>,
    pub data: serde_json::Value,
    /// W3C trace context of the request that caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl Envelope {
    pub fn new(
        source: &str,
        kind: &str,
        subject: impl Into<String>,
        actor: Option<String>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.to_owned(),
            source: source.to_owned(),
            subject: subject.into(),
            time: Utc::now(),
            actor,
            data,
            traceparent: crate::telemetry::current_traceparent(),
        }
    }
}
