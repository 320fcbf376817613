//! Liveness (the process answers) and readiness (its dependencies answer).

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use redis::aio::ConnectionManager;
use serde_json::{Value, json};

use crate::db::Db;
use crate::events::EventBus;

/// The dependencies a service checks before it reports ready.
#[derive(Clone)]
pub struct Health {
    /// Also the service's statement counters, which `/metrics` reports.
    pub database: Db,
    pub redis: Option<ConnectionManager>,
    pub bus: Option<Arc<dyn EventBus>>,
}

pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn ready(State(health): State<Health>) -> (StatusCode, Json<Value>) {
    let timeout = Duration::from_secs(3);
    let mut checks = serde_json::Map::new();
    let mut ok = true;

    let db = tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&health.database)).await;
    let db_ok = matches!(db, Ok(Ok(_)));
    ok &= db_ok;
    checks.insert(
        "database".into(),
        json!(if db_ok { "ok" } else { "unavailable" }),
    );

    if let Some(mut conn) = health.redis.clone() {
        let ping =
            tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn))
                .await;
        let redis_ok = matches!(ping, Ok(Ok(_)));
        ok &= redis_ok;
        checks.insert(
            "redis".into(),
            json!(if redis_ok { "ok" } else { "unavailable" }),
        );
    }
    if let Some(bus) = &health.bus {
        let bus_ok = matches!(tokio::time::timeout(timeout, bus.ready()).await, Ok(Ok(())));
        ok &= bus_ok;
        checks.insert(
            "events".into(),
            json!(if bus_ok { "ok" } else { "unavailable" }),
        );
    }
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({ "status": if ok { "ok" } else { "unavailable" }, "checks": checks })),
    )
}
