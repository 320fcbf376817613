//! The audit model and its rules; no SQL.
//!
//! - [`chain`]: the canonical encoding of a row, the hash that links it to the row before, and
//!   the walk that finds the first broken link.

pub mod chain;

use chrono::{DateTime, Utc};
use tessera_kit::events::Envelope;
use uuid::Uuid;

/// The scope that opens the log to its readers.
pub const AUDIT_READ: &str = "audit:read";

/// One recorded event, as the log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Position in the log; lists run newest (highest) first.
    pub seq: i64,
    pub event_id: Uuid,
    pub kind: String,
    pub source: String,
    pub subject: String,
    pub actor: Option<String>,
    /// When the event happened (the envelope's time).
    pub occurred_at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// What a list of events is narrowed to; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub subject: Option<String>,
    /// Events that happened at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events that happened before this instant.
    pub to: Option<DateTime<Utc>>,
}

impl Filter {
    /// Whether a record with these fields is one the filter keeps.
    pub fn matches(
        &self,
        kind: &str,
        subject: &str,
        actor: Option<&str>,
        occurred_at: DateTime<Utc>,
    ) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.subject.as_deref().is_none_or(|s| s == subject)
            && self.actor.as_deref().is_none_or(|a| Some(a) == actor)
            && self.from.is_none_or(|from| occurred_at >= from)
            && self.to.is_none_or(|to| occurred_at < to)
    }
}

/// Why an event cannot be recorded as it is: PostgreSQL text and jsonb hold no NUL character,
/// so an event carrying one would fail on every retry.
pub fn unrecordable(event: &Envelope) -> Option<&'static str> {
    let texts = [&event.kind, &event.source, &event.subject];
    if texts.iter().any(|t| t.contains('\0')) || event.actor.as_deref().is_some_and(has_nul) {
        return Some("a text field contains a NUL character");
    }
    json_has_nul(&event.data).then_some("the data contains a NUL character")
}

fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => has_nul(s),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| has_nul(key) || json_has_nul(value)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_keeps_what_every_given_field_matches() {
        let at = Utc::now();
        let any = Filter::default();
        assert!(any.matches("user.updated", "u1", None, at));
        let narrow = Filter {
            actor: Some("a1".into()),
            kind: Some("user.updated".into()),
            subject: Some("u1".into()),
            from: Some(at),
            to: Some(at + chrono::Duration::seconds(1)),
        };
        assert!(narrow.matches("user.updated", "u1", Some("a1"), at));
        assert!(!narrow.matches("user.created", "u1", Some("a1"), at));
        assert!(!narrow.matches("user.updated", "u2", Some("a1"), at));
        assert!(!narrow.matches("user.updated", "u1", None, at));
        assert!(!narrow.matches(
            "user.updated",
            "u1",
            Some("a1"),
            at - chrono::Duration::seconds(1)
        ));
        assert!(!narrow.matches(
            "user.updated",
            "u1",
            Some("a1"),
            at + chrono::Duration::seconds(1)
        ));
    }

    #[test]
    fn events_with_nul_characters_are_unrecordable() {
        let ok = Envelope::new("s", "t.x", "1", None, serde_json::json!({ "a": ["b"] }));
        assert_eq!(unrecordable(&ok), None);
        let nested = Envelope::new("s", "t.x", "1", None, serde_json::json!({ "a": ["b\0"] }));
        assert!(unrecordable(&nested).is_some());
        let key = Envelope::new("s", "t.x", "1", None, serde_json::json!({ "a\0": 1 }));
        assert!(unrecordable(&key).is_some());
        let actor = Envelope::new("s", "t.x", "1", Some("a\0".into()), serde_json::json!({}));
        assert!(unrecordable(&actor).is_some());
    }
}
