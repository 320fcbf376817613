//! The audit service: the tamper-evident record of every domain event. It consumes every
//! service's topic, appends each event once to an append-only log whose rows are chained by
//! SHA-256, and serves the log to holders of `audit:read` (as a list and live, as records are
//! made), each user's trail to that user, and a verification of the whole chain.
//!
//! - [`graphql`]: schema, resolvers, the `User` entity's `auditTrail` and its dataloader.
//! - [`domain`]: the log's model, its filters and page bounds, and the hash chain.
//! - [`store`]: sqlx queries against the `audit` schema: appends under the chain-head lock,
//!   lists, and the chain walk.
//! - [`events`]: the topics the log records, the consumer that appends to it, and the
//!   `audit.recorded` announcement of each append.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_kit::config::ServiceConfig;
use tessera_kit::runtime::{Embedded, Runtime};
use tessera_kit::tasks::Tasks;

/// Service name: schema, topic suffix and consumer group.
pub const NAME: &str = "audit";

/// The audit service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/audit");

/// The audit service's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Rows read per query while `verifyAuditChain` walks the log.
    pub verify_batch_size: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            verify_batch_size: 1_000,
        }
    }
}

pub type Config = ServiceConfig<Settings>;

/// Starts the service on `listener`; returns the address it serves.
pub async fn start(
    config: Config,
    listener: tokio::net::TcpListener,
    embedded: &Embedded,
    tasks: Tasks,
) -> anyhow::Result<SocketAddr> {
    let mut runtime = Runtime::start(NAME, &config, &MIGRATOR, embedded, tasks).await?;
    let store = store::Store::new(runtime.pool.clone());
    // The feed is in place before the first record can be announced.
    let live = runtime.live(&[NAME]).await;
    runtime.consume(
        &events::AUDITED_SERVICES,
        Arc::new(events::Recorder {
            store: store.clone(),
            outbox: runtime.outbox.clone(),
        }),
    );
    runtime.serve_subgraph(
        listener,
        graphql::schema(store, config.service.clone(), live),
        axum::Router::new(),
    )
}
