//! The blog service: posts with a publishing workflow, comments threaded one level deep, tags,
//! full-text search, and the posts of a `User`.
//!
//! - [`graphql`]: schema, resolvers, the `Post`, `Comment`, `Tag` and `User` types, and the
//!   batch loaders that keep a response's statement count independent of its size.
//! - [`domain`]: the post workflow, who sees and edits what, and text limits and normalisation.
//! - [`store`]: sqlx queries against the `blog` schema.
//! - [`events`]: the events the blog publishes, and what its subscriptions read back from them.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use tessera_kit::config::ServiceConfig;
use tessera_kit::runtime::{Embedded, Runtime};
use tessera_kit::tasks::Tasks;

/// Service name: schema, topic suffix and consumer group.
pub const NAME: &str = "blog";

/// The blog service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/blog");

/// The blog service's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a batch loader gathers keys before it runs its one statement, in milliseconds.
    /// Longer batches more under load; every field that loads waits this long.
    pub batch_delay_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { batch_delay_ms: 2 }
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
    let deps = graphql::Deps {
        store: store::Store::new(runtime.pool.clone()),
        outbox: runtime.outbox.clone(),
        live: runtime.live(&[NAME]).await,
        settings: config.service.clone(),
    };
    runtime.serve_subgraph(listener, graphql::schema(deps), axum::Router::new())
}
