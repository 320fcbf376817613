//! Prometheus metrics: one recorder per process, request counters and latencies per service,
//! and the service instance's own database statement counters (see [`crate::db::statements`])
//! and live feed (see [`crate::events::live`]).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::db::Statements;
use crate::events::LiveFeed;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (embedding applications); ours still renders
        // what it records through its handle.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::debug!("a metrics recorder was already installed");
        }
        handle
    })
}

/// What one service instance reports besides the process-wide metrics.
#[derive(Clone)]
pub struct Instance {
    pub statements: Arc<Statements>,
    pub live: Option<LiveFeed>,
}

/// `GET /metrics`: the process-wide metrics, then this instance's statement counters and live
/// feed.
pub async fn render(State(instance): State<Instance>) -> String {
    let mut out = handle().render();
    instance.statements.render(&mut out);
    if let Some(live) = &instance.live {
        live.render(&mut out);
    }
    out
}

/// Counts requests and records their latency, labelled by service, route and status.
pub async fn track(State(service): State<&'static str>, request: Request, next: Next) -> Response {
    handle();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tessera_http_requests_total", "service" => service, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("tessera_http_request_duration_seconds", "service" => service, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
