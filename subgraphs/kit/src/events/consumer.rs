//! Consuming events: a loop that retries failed handlers and acknowledges only handled events,
//! and the inbox that makes applying an event idempotent.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Envelope, EventBus};
use crate::db::{Db, Tx, statements};

/// Why a handler did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (database or network trouble).
    #[error(transparent)]
    Transient(#[from] anyhow::Error),
    /// Retrying cannot help (the event makes no sense to this handler); it is logged and skipped.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(err: sqlx::Error) -> Self {
        Self::Transient(err.into())
    }
}

/// Applies events of the topics it is subscribed to.
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    async fn handle(&self, event: &Envelope) -> Result<(), HandlerError>;
}

/// Runs `handler` for group `group` on `topics` until `cancel` fires. An event is acknowledged
/// only once its handler succeeded (or failed permanently); transient failures are retried with
/// back-off, so delivery is at-least-once and handlers deduplicate through [`begin_once`].
pub async fn run(
    bus: Arc<dyn EventBus>,
    topics: Vec<String>,
    group: String,
    handler: Arc<dyn EventHandler>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let max_backoff = Duration::from_secs(5);
    let mut backoff = Duration::from_millis(100);
    let mut subscription = loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            sub = bus.subscribe(&topics, &group) => match sub {
                Ok(sub) => break sub,
                Err(err) => {
                    tracing::warn!(%group, error = %err, "cannot join consumer group yet");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max_backoff);
                }
            }
        }
    };
    loop {
        let delivery = tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            next = subscription.next() => match next {
                Ok(d) => {
                    backoff = Duration::from_millis(100);
                    d
                }
                Err(err) => {
                    // The client reconnects by itself; wait a little longer each time so an
                    // outage does not flood the log.
                    tracing::warn!(%group, error = %err, retry_in_ms = backoff.as_millis() as u64, "consumer cannot read");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            }
        };
        let mut retry = Duration::from_millis(100);
        loop {
            match handler.handle(&delivery.envelope).await {
                Ok(()) => break,
                Err(HandlerError::Permanent(reason)) => {
                    tracing::error!(%group, event_id = %delivery.envelope.id, event_type = %delivery.envelope.kind, %reason, "event skipped");
                    break;
                }
                Err(HandlerError::Transient(err)) => {
                    tracing::warn!(%group, event_id = %delivery.envelope.id, error = format!("{err:#}"), "event handler failed; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => return Ok(()),
                        () = tokio::time::sleep(retry) => {}
                    }
                    retry = (retry * 2).min(max_backoff);
                }
            }
        }
        if let Err(err) = subscription.ack(&delivery) {
            tracing::warn!(%group, error = %err, "cannot store consumer offset");
        }
    }
}

/// Opens a transaction in which `consumer` applies event `event_id`, or `None` when that
/// consumer already applied it. The inbox row commits with the effect, so a redelivered event is
/// applied at most once. The transaction's statements count under the `consumer` origin.
pub async fn begin_once(db: &Db, consumer: &str, event_id: Uuid) -> sqlx::Result<Option<Tx>> {
    let mut tx = db.for_origin(statements::CONSUMER).begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(consumer)
    .bind(event_id)
    .execute(&mut tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    Ok(Some(tx))
}
