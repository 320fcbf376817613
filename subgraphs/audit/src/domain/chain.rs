//! The hash chain over the audit log.
//!
//! Every row is linked to the row before it:
//!
//! ```text
//! hash = SHA-256(prev_hash || content)
//! ```
//!
//! `prev_hash` is the 32-byte `hash` of the row with the next lower `seq`; the first row's is
//! [`GENESIS`], 32 zero bytes. `content` is the UTF-8 text of a JSON array of eight elements,
//! without any whitespace between them:
//!
//! ```text
//! [event_id,type,source,subject,actor,occurred_at,recorded_at,data]
//! ```
//!
//! - `event_id`: a JSON string, the UUID in lower-case hex with hyphens;
//! - `type`, `source`, `subject`: JSON strings;
//! - `actor`: a JSON string, or `null` when the event names no actor;
//! - `occurred_at`, `recorded_at`: JSON strings, RFC 3339 in UTC with exactly six fractional
//!   digits and a `Z` (`2025-01-31T09:15:00.123456Z`); PostgreSQL keeps microseconds, so these
//!   are the stored instants exactly;
//! - `data`: the `data` column exactly as PostgreSQL renders the stored jsonb as text
//!   (`data::text`): object keys in jsonb's order (shorter keys first, then by bytes), `": "`
//!   after each key, `", "` between members and elements, numbers as PostgreSQL writes
//!   `numeric`.
//!
//! JSON strings escape `"` and `\`, write U+0008, U+0009, U+000A, U+000C and U+000D as `\b`,
//! `\t`, `\n`, `\f` and `\r`, other characters below U+0020 as `\u00xx` (lower-case hex), and
//! every other character as itself: the rules of RFC 8785, which PostgreSQL's jsonb output
//! follows too.
//!
//! Hashing PostgreSQL's own rendering of `data` makes the hash independent of how the event
//! spelled its JSON (key order, whitespace, `1.0` against `1.00`): the append stores exactly the
//! text it hashed, and since jsonb's text form is a function of the stored value, any reader of
//! `data::text` gets those bytes back, however jsonb reorders keys internally.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

/// What the first row chains from.
pub const GENESIS: [u8; 32] = [0; 32];

/// The part of a row the hash covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Content<'a> {
    pub event_id: Uuid,
    pub kind: &'a str,
    pub source: &'a str,
    pub subject: &'a str,
    pub actor: Option<&'a str>,
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The data as PostgreSQL renders the stored jsonb (`data::text`).
    pub data: &'a str,
}

/// An instant cut to the microseconds PostgreSQL stores, so the value hashed is the value kept.
pub fn stored_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.timestamp_subsec_nanos();
    at - chrono::Duration::nanoseconds(i64::from(nanos % 1_000))
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The canonical encoding of `content` (see the module documentation).
pub fn encode(content: &Content<'_>) -> Vec<u8> {
    let head = (
        content.event_id.to_string(),
        content.kind,
        content.source,
        content.subject,
        content.actor,
        instant(content.occurred_at),
        instant(content.recorded_at),
    );
    // A tuple serializes as a JSON array; `data` is already JSON text and becomes its last
    // element.
    let mut out = serde_json::to_vec(&head).expect("strings and null always serialize");
    out.pop();
    out.push(b',');
    out.extend_from_slice(content.data.as_bytes());
    out.push(b']');
    out
}

/// The hash of a row whose predecessor's hash is `prev`.
pub fn link_hash(prev: &[u8], content: &Content<'_>) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(prev);
    hasher.update(encode(content));
    hasher.finalize().into()
}

/// A stored row, as the verifier reads it.
#[derive(Debug, Clone, Copy)]
pub struct Link<'a> {
    pub seq: i64,
    pub content: Content<'a>,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

/// The chain head: the newest row as the last append recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// 0 before the first append.
    pub last_seq: i64,
    pub last_event_id: Option<Uuid>,
    pub hash: Vec<u8>,
}

/// Why a link is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "AuditChainBreakReason")]
pub enum BreakReason {
    /// The row's content (or its stored hash) was changed: the hash recomputed from the row
    /// differs from the stored one.
    ContentHashMismatch,
    /// The row does not follow the row before it: its `prevHash` is not that row's hash (a row
    /// was removed, inserted or re-hashed before it).
    PrevHashMismatch,
    /// The log does not end where the chain head says: rows were removed from, or added past,
    /// its end.
    HeadMismatch,
}

/// The first broken link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub event_id: Uuid,
    pub reason: BreakReason,
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Rows checked, up to and including a broken one.
    pub rows_checked: i64,
    /// The hash of the last row checked; an anchor to keep outside the database.
    pub last_hash: Option<Vec<u8>>,
    pub first_broken: Option<Break>,
}

/// Walks the log in `seq` order, one row at a time, keeping only the previous link.
#[derive(Debug, Clone)]
pub struct Walk {
    expected_prev: Vec<u8>,
    last: Option<(i64, Uuid)>,
    checked: i64,
}

impl Default for Walk {
    fn default() -> Self {
        Self {
            expected_prev: GENESIS.to_vec(),
            last: None,
            checked: 0,
        }
    }
}

impl Walk {
    /// Checks the next row.
    pub fn step(&mut self, link: &Link<'_>) -> Result<(), Break> {
        self.checked += 1;
        let broken = |reason| Break {
            seq: link.seq,
            event_id: link.content.event_id,
            reason,
        };
        if link.prev_hash != self.expected_prev.as_slice() {
            return Err(broken(BreakReason::PrevHashMismatch));
        }
        if link_hash(link.prev_hash, &link.content).as_slice() != link.hash {
            return Err(broken(BreakReason::ContentHashMismatch));
        }
        self.expected_prev = link.hash.to_vec();
        self.last = Some((link.seq, link.content.event_id));
        Ok(())
    }

    /// Checks that the log ends at `head`, once every row has been stepped through.
    pub fn finish(&self, head: &Head) -> Result<(), Break> {
        let mismatch = |seq, event_id| Break {
            seq,
            event_id,
            reason: BreakReason::HeadMismatch,
        };
        match self.last {
            None if head.last_seq == 0 => Ok(()),
            Some((seq, _)) if seq == head.last_seq && self.expected_prev == head.hash => Ok(()),
            // A row past the head: name it.
            Some((seq, event_id)) if seq > head.last_seq => Err(mismatch(seq, event_id)),
            // The head's row is missing or replaced: name the row the head records.
            _ => Err(mismatch(
                head.last_seq,
                head.last_event_id.unwrap_or_default(),
            )),
        }
    }

    pub fn rows_checked(&self) -> i64 {
        self.checked
    }

    /// The hash of the last row that verified.
    pub fn last_hash(&self) -> Option<Vec<u8>> {
        self.last.map(|_| self.expected_prev.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64, micros: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, micros * 1_000).expect("valid instant")
    }

    fn content<'a>(event_id: Uuid, data: &'a str) -> Content<'a> {
        Content {
            event_id,
            kind: "user.updated",
            source: "identity",
            subject: "u1",
            actor: Some("u1"),
            occurred_at: at(1_700_000_000, 1),
            recorded_at: at(1_700_000_001, 250_000),
            data,
        }
    }

    #[test]
    fn encodes_the_documented_form() {
        let id = Uuid::parse_str("0192f0c1-7a3b-7c00-8000-000000000001").expect("uuid");
        let mut c = content(id, r#"{"b": "x\ny", "ab": [1, 2.50]}"#);
        c.subject = "quote \" and \u{1} é";
        c.actor = None;
        assert_eq!(
            String::from_utf8(encode(&c)).expect("utf-8"),
            r#"["0192f0c1-7a3b-7c00-8000-000000000001","user.updated","identity","quote \" and \u0001 é",null,"2023-11-14T22:13:20.000001Z","2023-11-14T22:13:21.250000Z",{"b": "x\ny", "ab": [1, 2.50]}]"#
        );
        // Computed apart from this code: SHA-256 of 32 zero bytes followed by the text above.
        assert_eq!(
            hex::encode(link_hash(&GENESIS, &c)),
            "af5014397e4bad7dd766d763226f8e1a24c92b999df0457baa030df80e74887b"
        );
    }

    #[test]
    fn instants_are_cut_to_microseconds() {
        let precise = DateTime::from_timestamp(1_700_000_000, 123_456_789).expect("instant");
        assert_eq!(stored_instant(precise), at(1_700_000_000, 123_456));
    }

    struct Row {
        seq: i64,
        id: Uuid,
        data: String,
        prev: Vec<u8>,
        hash: Vec<u8>,
    }

    fn chain(n: i64) -> Vec<Row> {
        let mut prev = GENESIS.to_vec();
        (1..=n)
            .map(|seq| {
                let id = Uuid::now_v7();
                let data = format!(r#"{{"n": {seq}}}"#);
                let hash = link_hash(&prev, &content(id, &data)).to_vec();
                let row = Row {
                    seq,
                    id,
                    data,
                    prev: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                row
            })
            .collect()
    }

    fn head(rows: &[Row]) -> Head {
        rows.last().map_or(
            Head {
                last_seq: 0,
                last_event_id: None,
                hash: GENESIS.to_vec(),
            },
            |r| Head {
                last_seq: r.seq,
                last_event_id: Some(r.id),
                hash: r.hash.clone(),
            },
        )
    }

    fn verify(rows: &[Row], head: &Head) -> Result<i64, Break> {
        let mut walk = Walk::default();
        for r in rows {
            walk.step(&Link {
                seq: r.seq,
                content: content(r.id, &r.data),
                prev_hash: &r.prev,
                hash: &r.hash,
            })?;
        }
        walk.finish(head)?;
        Ok(walk.rows_checked())
    }

    #[test]
    fn an_intact_chain_verifies() {
        let rows = chain(4);
        assert_eq!(verify(&rows, &head(&rows)), Ok(4));
        assert_eq!(verify(&[], &head(&[])), Ok(0));
    }

    #[test]
    fn changed_content_is_named() {
        let mut rows = chain(4);
        let h = head(&rows);
        rows[1].data = r#"{"n": 20}"#.to_owned();
        let broken = verify(&rows, &h).expect_err("tampered");
        assert_eq!(
            (broken.seq, broken.event_id, broken.reason),
            (2, rows[1].id, BreakReason::ContentHashMismatch)
        );
    }

    #[test]
    fn a_removed_or_rehashed_row_breaks_the_next_link() {
        let mut rows = chain(4);
        let h = head(&rows);
        rows.remove(1);
        let broken = verify(&rows, &h).expect_err("removed");
        assert_eq!(
            (broken.seq, broken.reason),
            (3, BreakReason::PrevHashMismatch)
        );

        let mut rows = chain(3);
        let h = head(&rows);
        rows[0].data = r#"{"n": 10}"#.to_owned();
        rows[0].hash = link_hash(&GENESIS, &content(rows[0].id, &rows[0].data)).to_vec();
        let broken = verify(&rows, &h).expect_err("rehashed");
        assert_eq!(
            (broken.seq, broken.reason),
            (2, BreakReason::PrevHashMismatch)
        );
    }

    #[test]
    fn a_cut_or_extended_end_is_named() {
        let mut rows = chain(3);
        let h = head(&rows);
        let last = rows.pop().expect("row");
        let broken = verify(&rows, &h).expect_err("cut");
        assert_eq!(
            (broken.seq, broken.event_id, broken.reason),
            (3, last.id, BreakReason::HeadMismatch)
        );

        let rows = chain(3);
        let broken = verify(&rows, &head(&rows[..2])).expect_err("extended");
        assert_eq!(
            (broken.seq, broken.event_id, broken.reason),
            (3, rows[2].id, BreakReason::HeadMismatch)
        );
    }
}
