//! The router's HTTP server: `/graphql` (GraphQL over HTTP; WebSocket, SSE and multipart
//! streams; `PUT`/`DELETE` for GraphQL over SSE's single connection mode), health endpoints,
//! and the playground. The engine (supergraph, plans, configuration) sits behind an atomic pointer so
//! it can be swapped without dropping in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts as _, Request, State, WebSocketUpgrade};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::GatewayConfig;
use crate::edge::cors::Preflight;
use crate::pipeline::request::{MediaType, RequestError};
use crate::pipeline::{self, Engine, HttpRequest};
use crate::playground;
use crate::reload;
use crate::subscriptions::{self, single_connection, streaming::Streaming};

/// The engine currently serving, swappable at runtime.
pub type SharedEngine = Arc<ArcSwap<Engine>>;

/// The router's routes over `engine`.
pub fn app(engine: SharedEngine) -> Router {
    // The playground can be switched on and off by a reload, so it is decided per request.
    let playground = playground::routes().route_layer(middleware::from_fn_with_state(
        engine.clone(),
        playground_on,
    ));
    Router::new()
        .route(
            "/graphql",
            get(graphql)
                .post(graphql)
                .options(graphql)
                .put(graphql)
                .delete(graphql),
        )
        .route("/health", get(live))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .merge(playground)
        .with_state(engine)
}

async fn playground_on(
    State(engine): State<SharedEngine>,
    request: Request,
    next: Next,
) -> Response {
    if engine.load().config.playground.enabled {
        next.run(request).await
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
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

async fn graphql(State(shared): State<SharedEngine>, request: Request) -> Response {
    let engine = shared.load_full();
    let (mut parts, body) = request.into_parts();
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if parts.method == Method::GET && parts.headers.contains_key(header::UPGRADE) {
        return match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => {
                subscriptions::websocket::upgrade(shared, upgrade, parts.headers, remote)
            }
            Err(rejection) => rejection.into_response(),
        };
    }
    match engine.edge.cors.preflight(&parts.method, &parts.headers) {
        Some(Preflight::Allowed(headers)) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            response.headers_mut().extend(headers);
            return response;
        }
        Some(Preflight::Refused) => return StatusCode::FORBIDDEN.into_response(),
        None => {}
    }
    let kind = single_connection::Kind::of(&parts.method, &parts.headers, parts.uri.query());
    let mut response = match (kind, Streaming::accepted(&parts.headers)) {
        (Some(kind), _) => single_stream(&shared, &engine, kind, &parts, body, remote).await,
        (None, Some(streaming)) if parts.method == Method::GET || parts.method == Method::POST => {
            stream(&shared, &engine, streaming, &parts, body, remote).await
        }
        _ => respond(&engine, &parts, body, remote).await,
    };
    engine
        .edge
        .cors
        .apply(&parts.headers, response.headers_mut());
    response
}

async fn respond(
    engine: &Engine,
    parts: &axum::http::request::Parts,
    body: Body,
    remote: Option<std::net::IpAddr>,
) -> Response {
    if parts.method == Method::GET
        && engine.config.playground.enabled
        && playground::accepts_html(&parts.headers)
        && !parts.uri.query().is_some_and(|q| q.contains("query="))
    {
        return playground::page();
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return encode(pipeline::encode_error(
            &RequestError::GetOrPost,
            MediaType::Json,
        ));
    }
    let body = match read_body(engine, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let response = pipeline::run(
        engine,
        HttpRequest {
            method: &parts.method,
            headers: &parts.headers,
            query_string: parts.uri.query(),
            body: &body,
            remote,
        },
    )
    .await;
    encode(response)
}

/// The request body, up to the configured limit.
async fn read_body(engine: &Engine, body: Body) -> Result<bytes::Bytes, Response> {
    let limit = engine.config.limits.max_body_bytes;
    match axum::body::to_bytes(body, limit.saturating_add(1)).await {
        Ok(bytes) if bytes.len() <= limit => Ok(bytes),
        _ => Err(encode(pipeline::encode_error(
            &RequestError::PayloadTooLarge(limit),
            MediaType::Json,
        ))),
    }
}

/// A request whose response streams (SSE or multipart), usually a subscription.
async fn stream(
    shared: &SharedEngine,
    engine: &Engine,
    streaming: Streaming,
    parts: &axum::http::request::Parts,
    body: Body,
    remote: Option<std::net::IpAddr>,
) -> Response {
    let body = match read_body(engine, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    subscriptions::streaming::respond(
        shared,
        streaming,
        &parts.method,
        &parts.headers,
        parts.uri.query(),
        &body,
        remote,
    )
    .await
}

/// A request of GraphQL over SSE's single connection mode (a reservation, its stream, or an
/// operation on it).
async fn single_stream(
    shared: &SharedEngine,
    engine: &Engine,
    kind: single_connection::Kind,
    parts: &axum::http::request::Parts,
    body: Body,
    remote: Option<std::net::IpAddr>,
) -> Response {
    let body = match read_body(engine, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    single_connection::respond(
        shared,
        single_connection::Request {
            kind,
            method: &parts.method,
            headers: &parts.headers,
            query_string: parts.uri.query(),
            body: &body,
            remote,
        },
    )
    .await
}

/// An encoded pipeline response as an HTTP response.
pub(crate) fn encode(response: pipeline::HttpResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() = response.status;
    let headers = out.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(response.content_type),
    );
    headers.extend(response.headers);
    out
}

/// Puts `next` in service: new requests run on it, requests in flight finish on the engine
/// they started with, and open subscriptions check whether the change affects them.
pub fn swap(shared: &SharedEngine, next: Engine) {
    let registry = next.subscriptions.clone();
    let previous = shared.swap(Arc::new(next));
    previous.subscriptions.reloaded();
    if !Arc::ptr_eq(&previous.subscriptions, &registry) {
        registry.reloaded();
    }
}

/// A router serving on a listener, until [`RouterServer::shutdown`].
pub struct RouterServer {
    addr: SocketAddr,
    engine: SharedEngine,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    watcher: Option<JoinHandle<()>>,
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
            watcher: None,
        })
    }

    /// Loads the supergraph and configuration from `sources`, serves them on `listener`, and
    /// reloads them when they change (unless the configuration turns watching off).
    pub async fn start_watching(
        listener: TcpListener,
        sources: reload::Sources,
    ) -> anyhow::Result<Self> {
        let sdl = std::fs::read_to_string(&sources.supergraph).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the supergraph {}: {e}",
                sources.supergraph.display()
            )
        })?;
        let config = match &sources.config {
            Some(path) => GatewayConfig::load(path)?,
            None => GatewayConfig::default(),
        };
        let mut server = Self::start(listener, &sdl, config).await?;
        server.watcher = reload::watch(server.engine.clone(), sources);
        Ok(server)
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
        if let Some(watcher) = self.watcher.take() {
            watcher.abort();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves `engine` on `listener` until `shutdown` completes, then drains in-flight requests.
///
/// Open subscriptions end with `complete` and WebSockets close (1001) when shutdown begins, so
/// that long-lived streams do not hold the drain forever.
pub async fn serve(
    listener: TcpListener,
    engine: SharedEngine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let streams = engine.clone();
    axum::serve(
        listener,
        app(engine).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        streams.load().subscriptions.close();
    })
    .await
}
