//! A throw-away database per test, on the PostgreSQL server the suite is pointed at
//! (`TESSERA_TEST_DATABASE_URL`, default the local server on 127.0.0.1:5432).

use std::str::FromStr as _;

use sqlx::ConnectOptions as _;
use sqlx::postgres::PgConnectOptions;

/// A database that is dropped when the value is.
pub struct TestDb {
    pub url: String,
    name: String,
    server: PgConnectOptions,
}

fn server_url() -> String {
    std::env::var("TESSERA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    pub async fn create() -> anyhow::Result<Self> {
        let server = PgConnectOptions::from_str(&server_url())?;
        let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = server.clone().database("postgres").connect().await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await?;
        let url = server.clone().database(&name).to_url_lossy().to_string();
        Ok(Self { url, name, server })
    }

    /// A pool on `schema` of this database (to inspect what a service stored).
    pub async fn pool(&self, schema: &str) -> anyhow::Result<sqlx::PgPool> {
        let options = PgConnectOptions::from_str(&self.url)?.options([("search_path", schema)]);
        Ok(sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Dropping happens outside any runtime guarantee; a short-lived thread with its own
        // runtime does the clean-up.
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = server.database("postgres").connect().await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
