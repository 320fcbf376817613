//! PostgreSQL: one pool per service, bound to the service's own schema, and its migrations.
//!
//! Services reach the pool only through [`Db`] (and the [`Tx`] transactions it opens), which
//! count every statement they send; the count is the `tessera_db_statements_total` counter on the
//! service's `/metrics`. Counting happens where the statement leaves for the pool, so a query
//! nobody instrumented is counted all the same.
//!
//! - [`counted`]: the [`Db`] and [`Tx`] executors.
//! - [`statements`]: the per-instance counters and their Prometheus rendering.

pub mod counted;
pub mod statements;

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use counted::{Db, Tx};
pub use statements::Statements;

use crate::config::DatabaseConfig;

/// Connects a pool whose connections resolve unqualified names in `schema` first. The schema is
/// created when missing, so migrations (and their bookkeeping table) land inside it. The
/// schema's name is also the `service` label of the statement counter.
pub async fn connect(config: &DatabaseConfig, schema: &str) -> anyhow::Result<Db> {
    anyhow::ensure!(
        !schema.is_empty() && schema.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "schema name {schema:?} must be lower-case ASCII"
    );
    let base = PgConnectOptions::from_str(config.url.expose())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    // A short-lived connection creates the schema before the pool pins search_path to it.
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
        .connect_with(base.clone())
        .await
        .context("cannot connect to PostgreSQL")?;
    // The schema name was checked above to be a plain identifier.
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(&admin)
        .await
        .with_context(|| format!("cannot create schema {schema}"))?;
    admin.close().await;

    let options = base.options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the {schema} pool"))?;
    Ok(Db::new(pool, Statements::new(schema)))
}

/// Applies the service's migrations inside its schema. Migration statements run once at start-up
/// and are not counted.
pub async fn migrate(db: &Db, migrator: &Migrator) -> anyhow::Result<()> {
    migrator
        .run(db.uncounted_pool())
        .await
        .context("migrations failed")
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
