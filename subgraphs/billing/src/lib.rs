//! The billing service: plans, customer subscriptions, invoices with line items, payments
//! through a pluggable provider, idempotent money-moving mutations and a renewal job. Money is
//! always integer minor units with an ISO 4217 currency.
//!
//! - [`graphql`]: schema, resolvers, billing's fields on the `User` entity, dataloaders.
//! - [`flows`]: the transactions that move money (subscribe, pay, cancel, renew) and the
//!   idempotency guard in front of them.
//! - [`domain`]: money, plans, subscriptions, invoices and payments, and their status rules.
//! - [`provider`]: the `PaymentProvider` seam and the built-in test-mode provider.
//! - [`store`]: sqlx queries against the `billing` schema.
//! - [`events`]: the event types billing publishes.

pub mod domain;
pub mod events;
pub mod flows;
pub mod graphql;
pub mod provider;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use tessera_kit::db::Db;

use serde::{Deserialize, Serialize};
use tessera_kit::config::{DatabaseConfig, ServiceConfig};
use tessera_kit::runtime::{Embedded, Runtime};
use tessera_kit::tasks::Tasks;

pub use provider::ProviderConfig;

/// Service name: schema, topic suffix and consumer group.
pub const NAME: &str = "billing";

/// The billing service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/billing");

/// The billing service's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Which payment provider charges customers (`kind: test` is the only one today).
    pub provider: ProviderConfig,
    /// How often the renewal job looks for subscriptions whose period ended, in milliseconds.
    pub renewal_interval_ms: u64,
    /// Most subscriptions one pass of the renewal job handles (each in its own transaction).
    pub renewal_batch_size: u32,
    /// Days after issue that an invoice is due.
    pub invoice_due_days: i64,
    /// Hours an incomplete subscription waits for its first payment before it expires.
    pub incomplete_expiry_hours: i64,
    /// How long a request waits for a concurrent request with the same idempotency key to
    /// finish, in milliseconds, before it is told to retry.
    pub idempotency_wait_ms: u64,
    /// How long idempotency keys (and the results they replay) are kept, in hours.
    pub idempotency_retention_hours: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            provider: ProviderConfig::default(),
            renewal_interval_ms: 60_000,
            renewal_batch_size: 100,
            invoice_due_days: 7,
            incomplete_expiry_hours: 23,
            idempotency_wait_ms: 30_000,
            idempotency_retention_hours: 24,
        }
    }
}

pub type Config = ServiceConfig<Settings>;

/// Connections of the test-mode provider's own pool.
const PROVIDER_CONNECTIONS: u32 = 2;

/// The flows over `pool`, with the provider `settings` name. Tests use it to run the renewal
/// job as a second instance would.
pub async fn billing(
    pool: Db,
    database: &DatabaseConfig,
    outbox: tessera_kit::events::Outbox,
    settings: Settings,
) -> anyhow::Result<flows::Billing> {
    // The provider keeps its ledger through connections of its own, as an outside provider
    // would, so it never waits behind billing's transactions for a connection.
    let provider_pool = tessera_kit::db::connect(
        &DatabaseConfig {
            max_connections: PROVIDER_CONNECTIONS,
            ..database.clone()
        },
        NAME,
    )
    .await?;
    Ok(flows::Billing {
        store: store::Store::new(pool),
        provider: provider::from_config(&settings.provider, provider_pool),
        outbox,
        settings: Arc::new(settings),
    })
}

/// Starts the service on `listener`; returns the address it serves.
pub async fn start(
    config: Config,
    listener: tokio::net::TcpListener,
    embedded: &Embedded,
    tasks: Tasks,
) -> anyhow::Result<SocketAddr> {
    let mut runtime = Runtime::start(NAME, &config, &MIGRATOR, embedded, tasks.clone()).await?;
    let live = runtime.live(&[NAME]).await;
    let billing = billing(
        runtime.pool.clone(),
        &config.database,
        runtime.outbox.clone(),
        config.service.clone(),
    )
    .await?;
    tasks.spawn(
        "billing-renewals",
        billing.clone().run_renewals(tasks.token()),
    );
    runtime.serve_subgraph(
        listener,
        graphql::schema(billing, live),
        axum::Router::new(),
    )
}
