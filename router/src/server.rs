//! The router's HTTP server: `/graphql` (GraphQL over HTTP), health endpoints, and the
//! playground. The engine (supergraph, plans, configuration) sits behind an atomic pointer so
//! it can be swapped without dropping in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::GatewayConfig;
use crate::pipeline::request::{MediaType, RequestError};
use crate::pipeline::{self, Engine, HttpRequest};
use crate::playground;

/// The engine currently serving, swappable at runtime.
pub type SharedEngine = Arc<ArcSwap<Engine>>;

/// The router's routes over `engine`.
pub fn app(engine: SharedEngine) -> Router {
    let playground_enabled = engine.load().config.playground.enabled;
    let mut router = Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .route("/health", get(live))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready));
    if playground_enabled {
        router = router.merge(playground::routes());
    }
    router.with_state(engine)
}

async fn live() -> impl IntoResponse {
    json(StatusCode::OK, r#"{"status":"pass"}"#)
}

async fn ready(State(engine): State<SharedEngine>) -> impl IntoResponse {
    let engine = engine.load();
    let body = format!(
        r#"{{"status":"pass","subgraphs":{}}}"#,
        engine.graph.subgraphs.len()
    );
    json(StatusCode::OK, body)
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn graphql(State(engine): State<SharedEngine>, request: Request) -> Response {
    let engine = engine.load_full();
    let (parts, body) = request.into_parts();
    if parts.method == Method::GET
        && engine.config.playground.enabled
        && playground::accepts_html(&parts.headers)
        && !parts.uri.query().is_some_and(|q| q.contains("query="))
    {
        return playground::page();
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return encode(pipeline::encode_error(
            &RequestError::BadParameter("use GET or POST".into()),
            MediaType::Json,
        ));
    }
    let limit = engine.config.limits.max_body_bytes;
    let body = match axum::body::to_bytes(body, limit.saturating_add(1)).await {
        Ok(bytes) if bytes.len() <= limit => bytes,
        _ => {
            return encode(pipeline::encode_error(
                &RequestError::PayloadTooLarge(limit),
                MediaType::Json,
            ));
        }
    };
    let response = pipeline::run(
        &engine,
        HttpRequest {
            method: &parts.method,
            headers: &parts.headers,
            query_string: parts.uri.query(),
            body: &body,
        },
    )
    .await;
    encode(response)
}

fn encode(response: pipeline::HttpResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = response.status;
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    out
}

/// A router serving on a listener, until [`RouterServer::shutdown`].
pub struct RouterServer {
    addr: SocketAddr,
    engine: SharedEngine,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RouterServer {
    /// Loads `supergraph_sdl` with `config` and serves it on `listener`.
    pub async fn start(
        listener: TcpListener,
        supergraph_sdl: &str,
        config: GatewayConfig,
    ) -> anyhow::Result<Self> {
        let engine: SharedEngine =
            Arc::new(ArcSwap::from_pointee(Engine::new(supergraph_sdl, config)?));
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, engine.clone(), async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            engine,
            stop: Some(stop),
            task,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:4000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The engine, to swap in a new supergraph or configuration.
    pub fn engine(&self) -> &SharedEngine {
        &self.engine
    }

    /// Stops accepting requests and waits for in-flight ones.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves `engine` on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    engine: SharedEngine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(engine))
        .with_graceful_shutdown(shutdown)
        .await
}
