//! The identity service: users and their profiles, email verification, and the `User` entity
//! every other subgraph extends.
//!
//! - [`graphql`]: schema, resolvers, the `User` entity and its dataloader.
//! - [`domain`]: the user model and the rules of its mutations.
//! - [`store`]: sqlx queries against the `identity` schema.
//! - [`events`]: what identity publishes, and the projection of `auth.signed_up` into users.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tessera_kit::config::ServiceConfig;
use tessera_kit::mail::MailConfig;
use tessera_kit::runtime::{Embedded, Runtime};
use tessera_kit::tasks::Tasks;

/// Service name: schema, topic suffix and consumer group.
pub const NAME: &str = "identity";

/// The identity service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/identity");

/// The identity service's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Outgoing mail (verification links).
    pub mail: MailConfig,
    /// How long an email verification link stays valid, in minutes.
    pub verification_ttl_minutes: i64,
    /// Verification mails a user may request per hour.
    pub verification_requests_per_hour: u64,
    /// How long, after auth issued a sign-up's tokens, the sign-up's `user` waits for the
    /// user to be projected from `auth.signed_up`, in milliseconds. Beyond it the field fails
    /// with `REGISTRATION_PENDING`. Keep it below the router's subgraph timeout.
    pub registration_wait_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mail: MailConfig::default(),
            verification_ttl_minutes: 24 * 60,
            verification_requests_per_hour: 5,
            registration_wait_ms: 5000,
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
    let runtime = Runtime::start(NAME, &config, &MIGRATOR, embedded, tasks).await?;
    let store = store::Store::new(runtime.pool.clone());
    runtime.consume(
        &["auth"],
        Arc::new(events::Projection {
            store: store.clone(),
            outbox: runtime.outbox.clone(),
        }),
    );
    let deps = graphql::Deps {
        store,
        outbox: runtime.outbox.clone(),
        notifier: tessera_kit::mail::notifier(&config.service.mail)?,
        counters: runtime.counters.clone(),
        settings: config.service.clone(),
        verifier: runtime.verifier.clone(),
    };
    runtime.serve_subgraph(listener, graphql::schema(deps), axum::Router::new())
}
