//! Which PostgreSQL `tessera dev` uses: `DATABASE_URL` when set, otherwise the machine's server
//! on 127.0.0.1:5432. The database is created when it does not exist yet.

use std::str::FromStr as _;

use anyhow::Context as _;
use sqlx::ConnectOptions as _;
use sqlx::postgres::PgConnectOptions;

/// Makes sure the database named in `url` exists, creating it through the server's `postgres`
/// database when it does not.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let options =
        PgConnectOptions::from_str(url).context("DATABASE_URL is not a PostgreSQL URL")?;
    let name = options.get_database().unwrap_or("postgres").to_owned();
    let mut admin = options
        .clone()
        .database("postgres")
        .connect()
        .await
        .with_context(|| "cannot reach PostgreSQL; start it or set DATABASE_URL".to_owned())?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        anyhow::ensure!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "database name {name:?} must be alphanumeric to be created automatically"
        );
        // The name was checked above; identifiers cannot be bound as parameters.
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create database {name}"))?;
        tracing::info!(database = %name, "database created");
    }
    Ok(())
}
