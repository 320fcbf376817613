//! PostgreSQL: one pool per service, bound to the service's own schema, and its migrations.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::Context as _;
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::DatabaseConfig;

/// Connects a pool whose connections resolve unqualified names in `schema` first. The schema is
/// created when missing, so migrations (and their bookkeeping table) land inside it.
pub async fn connect(config: &DatabaseConfig, schema: &str) -> anyhow::Result<PgPool> {
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
    PgPoolOptions::new()
        .max_connections(config.max_connections)
        .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the {schema} pool"))
}

/// Applies the service's migrations inside its schema.
pub async fn migrate(pool: &PgPool, migrator: &Migrator) -> anyhow::Result<()> {
    migrator.run(pool).await.context("migrations failed")
}

/// The name of the constraint a database error violated, if any.
pub fn violated_constraint(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db.constraint(),
        _ => None,
    }
}
