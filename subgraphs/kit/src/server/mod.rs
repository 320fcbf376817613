//! The HTTP face of a subgraph: GraphQL over HTTP (POST and GET) and WebSocket on `/graphql`,
//! `/health/live`, `/health/ready` and `/metrics`, with request spans, a body limit and graceful
//! shutdown.
//!
//! - [`graphql`]: request decoding, caller verification, execution and response encoding.
//! - [`health`]: liveness and readiness checks.
//! - [`schema`]: the defaults every subgraph schema gets (federation, limits, error codes).
//! - [`metrics`]: the Prometheus recorder, the per-request counters and the service's database
//!   statement counters.

pub mod graphql;
pub mod health;
pub mod metrics;
pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::trace::TraceLayer;

use crate::caller::TokenVerifier;
pub use health::Health;

/// What the shared routes need from a service.
pub struct Subgraph<E> {
    /// Service name, used in logs and metric labels.
    pub name: &'static str,
    /// The async-graphql schema.
    pub schema: E,
    /// Verifies forwarded access tokens.
    pub verifier: Arc<TokenVerifier>,
    /// Readiness checks.
    pub health: Health,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Where the client's address is read from.
    pub client_address: graphql::ClientAddressRule,
    /// The instance's live feed, when it streams events.
    pub live: Option<crate::events::LiveFeed>,
}

/// Builds the service's router: the shared routes plus `extra` (service-specific endpoints).
pub fn router<E>(subgraph: Subgraph<E>, extra: Router) -> Router
where
    E: async_graphql::Executor + Clone,
{
    let name = subgraph.name;
    let state = graphql::GraphqlState {
        schema: subgraph.schema,
        verifier: subgraph.verifier,
        client_address: subgraph.client_address,
    };
    let instance = metrics::Instance {
        statements: subgraph.health.database.statements().clone(),
        live: subgraph.live,
    };
    Router::new()
        .route("/graphql", get(graphql::get::<E>).post(graphql::post::<E>))
        .with_state(state)
        .route("/health/live", get(health::live))
        .route(
            "/health/ready",
            get(health::ready).with_state(subgraph.health),
        )
        .route("/metrics", get(metrics::render).with_state(instance))
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(name, metrics::track))
        .layer(
            TraceLayer::new_for_http().make_span_with(move |req: &axum::http::Request<_>| {
                let span = tracing::info_span!(
                    "request",
                    service = name,
                    http.request.method = %req.method(),
                    url.path = %req.uri().path(),
                );
                crate::telemetry::continue_trace(&span, req.headers());
                span
            }),
        )
        .layer(DefaultBodyLimit::max(subgraph.max_body_bytes))
}

/// Binds `addr`; port 0 picks a free port (tests).
pub async fn bind(addr: std::net::SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

/// Serves `app` until `cancel` fires, then lets in-flight requests finish (at most `grace`).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    cancel: CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    let shutdown = cancel.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => return result.context("server failed"),
        () = cancel.cancelled() => {}
    }
    // Cancelled: in-flight requests get `grace` to finish.
    match tokio::time::timeout(grace, server).await {
        Ok(result) => result.context("server failed"),
        Err(_) => {
            tracing::warn!("in-flight requests did not finish within the grace period");
            Ok(())
        }
    }
}
