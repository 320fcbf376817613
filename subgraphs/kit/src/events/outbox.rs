//! The transactional outbox: an event is inserted in the same transaction as the state change
//! it describes, and a relay publishes it afterwards. While the broker is down events wait in
//! the table; nothing is lost and nothing is half-written.
//!
//! Every service's schema has the same `outbox` table (see its first migration).

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Envelope, EventBus};
use crate::config::OutboxConfig;
use crate::db::{Db, Tx};

/// A service's outbox: where its events go, and how to wake its relay.
#[derive(Clone)]
pub struct Outbox {
    topic: Arc<str>,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        Self {
            topic: topic.into(),
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Records `event` inside the caller's transaction.
    pub async fn enqueue(&self, tx: &mut Tx, event: &Envelope) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO outbox (event_id, topic, event) VALUES ($1, $2, $3)")
            .bind(event.id)
            .bind(&*self.topic)
            .bind(sqlx::types::Json(event))
            .execute(tx)
            .await?;
        Ok(())
    }

    /// Tells the relay that a transaction with events has committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes the outbox until `cancel` fires.
    pub async fn relay(
        self,
        pool: Db,
        bus: Arc<dyn EventBus>,
        config: OutboxConfig,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let poll = Duration::from_millis(config.poll_interval_ms);
        let max_backoff = Duration::from_millis(config.max_backoff_ms);
        let mut backoff = Duration::from_millis(50);
        let mut passes: u64 = 0;
        loop {
            let wait = match publish_batch(&pool, bus.as_ref(), config.batch_size).await {
                Ok(n) => {
                    backoff = Duration::from_millis(50);
                    if n > 0 {
                        metrics::counter!("tessera_outbox_published_total", "topic" => self.topic.to_string())
                            .increment(n as u64);
                    }
                    if n as i64 == config.batch_size {
                        Duration::ZERO
                    } else {
                        poll
                    }
                }
                Err(err) => {
                    tracing::warn!(topic = %self.topic, error = format!("{err:#}"), retry_in_ms = backoff.as_millis() as u64, "outbox relay could not publish; events stay queued");
                    let wait = backoff;
                    backoff = (backoff * 2).min(max_backoff);
                    wait
                }
            };
            passes += 1;
            if passes.is_multiple_of(1000)
                && let Err(err) = purge_published(&pool, config.retention_hours).await
            {
                tracing::warn!(error = format!("{err:#}"), "outbox cleanup failed");
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// Publishes up to `limit` pending events in order; returns how many went out. Rows are locked
/// with SKIP LOCKED, so several relay instances share the work without publishing one row twice
/// at the same time. Events published before a failure are marked; the rest stay queued.
async fn publish_batch(pool: &Db, bus: &dyn EventBus, limit: i64) -> anyhow::Result<usize> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(
        "SELECT seq, topic, event FROM outbox WHERE published_at IS NULL \
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut tx)
    .await?;
    let mut done: Vec<i64> = Vec::with_capacity(rows.len());
    let mut failure = None;
    for row in &rows {
        let seq: i64 = row.try_get("seq")?;
        let topic: String = row.try_get("topic")?;
        let sqlx::types::Json(event): sqlx::types::Json<Envelope> = row.try_get("event")?;
        match bus.publish(&topic, &event).await {
            Ok(()) => done.push(seq),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    if !done.is_empty() {
        sqlx::query("UPDATE outbox SET published_at = now() WHERE seq = ANY($1)")
            .bind(&done)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    match failure {
        Some(err) => Err(err.into()),
        None => Ok(done.len()),
    }
}

async fn purge_published(pool: &Db, retention_hours: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => $1::int)")
        .bind(i32::try_from(retention_hours).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    Ok(())
}

/// How many events wait to be published.
pub async fn backlog(pool: &Db) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        .fetch_one(pool)
        .await
}
