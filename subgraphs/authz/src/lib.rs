//! The authz service: roles, the permission vocabulary, role assignments (global or scoped to one
//! resource) and permission checks. A user's global permissions are the scopes their access
//! tokens carry: every change to them publishes `scopes.changed`, which the auth service applies.
//!
//! - [`graphql`]: schema, resolvers, the fields authz adds to `User`, and the dataloaders.
//! - [`domain`]: the models, the shape of names and permissions, and the grant/revoke flows
//!   with their events.
//! - [`store`]: sqlx queries against the `authz` schema.
//! - [`events`]: the bootstrap of administrators from identity's `user.registered`.

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
pub const NAME: &str = "authz";

/// The authz service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/authz");

/// The authz service's own settings.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Accounts that receive the built-in admin role when they register (compared without
    /// regard to case). The same list the auth service's `admin_emails` holds.
    pub admin_emails: Vec<String>,
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
        &["identity"],
        Arc::new(events::Bootstrap {
            store: store.clone(),
            outbox: runtime.outbox.clone(),
            admin_emails: config.service.admin_emails.clone(),
        }),
    );
    let deps = graphql::Deps {
        store,
        outbox: runtime.outbox.clone(),
    };
    runtime.serve_subgraph(listener, graphql::schema(deps), axum::Router::new())
}
