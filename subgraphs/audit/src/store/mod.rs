//! sqlx queries against the `audit` schema. Every query is parameterised.
//!
//! - this module: appends, single records and the chain walk.
//! - [`lists`]: the filtered log and the per-user trails.

mod lists;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::{Db, Tx};
use uuid::Uuid;

use crate::domain::AuditEvent;
use crate::domain::chain::{self, Content, Head, Link, Report, Walk};

pub use lists::TrailKey;

/// Columns of an [`EventRow`].
const EVENT_COLUMNS: &str =
    "seq, event_id, type, source, subject, actor, occurred_at, recorded_at, data, prev_hash, hash";

#[derive(FromRow)]
struct EventRow {
    seq: i64,
    event_id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    source: String,
    subject: String,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    data: sqlx::types::Json<serde_json::Value>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl From<EventRow> for AuditEvent {
    fn from(row: EventRow) -> Self {
        Self {
            seq: row.seq,
            event_id: row.event_id,
            kind: row.kind,
            source: row.source,
            subject: row.subject,
            actor: row.actor,
            occurred_at: row.occurred_at,
            recorded_at: row.recorded_at,
            data: row.data.0,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub event_id: Uuid,
    pub kind: &'a str,
    pub source: &'a str,
    pub subject: &'a str,
    pub actor: Option<&'a str>,
    pub occurred_at: DateTime<Utc>,
    /// The data as PostgreSQL renders it as jsonb text ([`Store::jsonb_text`]).
    pub data: &'a str,
}

/// A row as the chain walk reads it: `data` as jsonb text, the form the hash covers.
#[derive(FromRow)]
struct LinkRow {
    seq: i64,
    event_id: Uuid,
    #[sqlx(rename = "type")]
    kind: String,
    source: String,
    subject: String,
    actor: Option<String>,
    occurred_at: DateTime<Utc>,
    recorded_at: DateTime<Utc>,
    data: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl LinkRow {
    fn link(&self) -> Link<'_> {
        Link {
            seq: self.seq,
            content: Content {
                event_id: self.event_id,
                kind: &self.kind,
                source: &self.source,
                subject: &self.subject,
                actor: self.actor.as_deref(),
                occurred_at: self.occurred_at,
                recorded_at: self.recorded_at,
                data: &self.data,
            },
            prev_hash: &self.prev_hash,
            hash: &self.hash,
        }
    }
}

/// The audit schema.
#[derive(Clone)]
pub struct Store {
    pool: Db,
}

impl Store {
    pub fn new(pool: Db) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Db {
        &self.pool
    }

    /// Whether the log holds `event_id` already.
    pub async fn contains(&self, event_id: Uuid) -> sqlx::Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM audit_log WHERE event_id = $1)")
            .bind(event_id)
            .fetch_one(&self.pool)
            .await
    }

    /// `data` as PostgreSQL renders it once stored as jsonb: the text the chain hashes.
    pub async fn jsonb_text(&self, data: &serde_json::Value) -> sqlx::Result<String> {
        sqlx::query_scalar("SELECT ($1::jsonb)::text")
            .bind(sqlx::types::Json(data))
            .fetch_one(&self.pool)
            .await
    }

    /// The log's record at `seq`.
    pub async fn event_at(&self, seq: i64) -> sqlx::Result<Option<AuditEvent>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM audit_log WHERE seq = $1");
        let row: Option<EventRow> = sqlx::query_as(&sql)
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(AuditEvent::from))
    }

    /// Walks the whole chain in `seq` order, `batch` rows per query, and reports the first
    /// broken link. The walk reads one snapshot (appends committed meanwhile are left for the
    /// next run), holding one batch in memory at a time.
    pub async fn verify_chain(&self, batch: i64) -> sqlx::Result<Report> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut tx)
            .await?;
        let (last_seq, last_event_id, hash): (i64, Option<Uuid>, Vec<u8>) =
            sqlx::query_as("SELECT last_seq, last_event_id, hash FROM audit_chain_head WHERE id")
                .fetch_one(&mut tx)
                .await?;
        let head = Head {
            last_seq,
            last_event_id,
            hash,
        };
        let mut walk = Walk::default();
        let mut after = 0_i64;
        let first_broken = 'walk: loop {
            let rows: Vec<LinkRow> = sqlx::query_as(
                "SELECT seq, event_id, type, source, subject, actor, occurred_at, recorded_at, \
                 data::text AS data, prev_hash, hash \
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(batch.max(1))
            .fetch_all(&mut tx)
            .await?;
            let Some(last) = rows.last() else {
                break walk.finish(&head).err();
            };
            after = last.seq;
            for row in &rows {
                if let Err(broken) = walk.step(&row.link()) {
                    break 'walk Some(broken);
                }
            }
        };
        tx.commit().await?;
        Ok(Report {
            rows_checked: walk.rows_checked(),
            last_hash: walk.last_hash(),
            first_broken,
        })
    }
}

/// Appends `entry` to the chain inside `tx`; returns its `seq`, or `None` when the event is
/// already in the log (then `tx` holds nothing worth committing). The chain head stays locked
/// until `tx` ends, so appends from any number of instances queue up and each links to the one
/// committed before it.
pub async fn append(tx: &mut Tx, entry: &NewEntry<'_>) -> sqlx::Result<Option<i64>> {
    let prev: Vec<u8> = sqlx::query_scalar("SELECT hash FROM audit_chain_head WHERE id FOR UPDATE")
        .fetch_one(&mut *tx)
        .await?;
    // Taken under the lock, so recording times rise with `seq`.
    let recorded_at = chain::stored_instant(Utc::now());
    let content = Content {
        event_id: entry.event_id,
        kind: entry.kind,
        source: entry.source,
        subject: entry.subject,
        actor: entry.actor,
        occurred_at: chain::stored_instant(entry.occurred_at),
        recorded_at,
        data: entry.data,
    };
    let hash = chain::link_hash(&prev, &content);
    let seq: Option<i64> = sqlx::query_scalar(
        "INSERT INTO audit_log \
         (event_id, type, source, subject, actor, occurred_at, recorded_at, data, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) \
         ON CONFLICT ON CONSTRAINT audit_log_event_id_key DO NOTHING RETURNING seq",
    )
    .bind(content.event_id)
    .bind(content.kind)
    .bind(content.source)
    .bind(content.subject)
    .bind(content.actor)
    .bind(content.occurred_at)
    .bind(content.recorded_at)
    .bind(content.data)
    .bind(prev.as_slice())
    .bind(hash.as_slice())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(seq) = seq else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE audit_chain_head SET last_seq = $1, last_event_id = $2, hash = $3 WHERE id",
    )
    .bind(seq)
    .bind(content.event_id)
    .bind(hash.as_slice())
    .execute(&mut *tx)
    .await?;
    Ok(Some(seq))
}
