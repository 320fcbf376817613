//! The router's HTTP server: `/graphql` (GraphQL over HTTP; WebSocket, SSE and multipart
//! streams; `PUT`/`DELETE` for GraphQL over SSE's single connection mode), health endpoints,
//! and the playground. The engine (supergraph, plans, configuration) sits behind an atomic pointer so
//! it can be swapped without dropping in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::time::Instant;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts as _, Request, State, WebSocketUpgrade};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use tower::ServiceExt as _;
use tower_http::compression::{CompressionLayer, Predicate};
use tower_http::decompression::RequestDecompressionLayer;

use crate::body::Collected;
use crate::config::{CompressionLevel, GatewayConfig};
use crate::edge::cors::Preflight;
use crate::pipeline::request::{MediaType, RequestError};
use crate::pipeline::{self, Engine, HttpRequest};
use crate::playground;
use crate::reload;
use crate::subscriptions::{self, single_connection, streaming::Streaming};
use connection::{Guarded, InFlight, Timers, Watch};

mod connection;
mod tls;

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
        .layer(compression(&engine))
        .layer(
            RequestDecompressionLayer::new()
                .no_deflate()
                .pass_through_unaccepted(true),
        )
        .with_state(engine)
}

/// Response compression by `Accept-Encoding`, decided per response (a reload can turn it on
/// or off); the level is read at start.
fn compression(engine: &SharedEngine) -> CompressionLayer<Compressible> {
    let level = match engine.load().config.compression.level {
        CompressionLevel::Fastest => tower_http::CompressionLevel::Fastest,
        CompressionLevel::Default => tower_http::CompressionLevel::Default,
        CompressionLevel::Best => tower_http::CompressionLevel::Best,
    };
    CompressionLayer::new()
        .no_deflate()
        .quality(level)
        .compress_when(Compressible(engine.clone()))
}

/// Which responses are compressed: whole bodies of at least `compression.min_bytes`, never a
/// stream (SSE or multipart events would wait in the compressor) or an upgrade.
#[derive(Clone)]
struct Compressible(SharedEngine);

impl Predicate for Compressible {
    fn should_compress<B: http_body::Body>(&self, response: &axum::http::Response<B>) -> bool {
        let engine = self.0.load();
        let config = &engine.config.compression;
        let streamed = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream") || v.starts_with("multipart/"));
        config.responses
            && !streamed
            && response.status() != StatusCode::SWITCHING_PROTOCOLS
            && response
                .body()
                .size_hint()
                .exact()
                .is_some_and(|size| size >= config.min_bytes)
    }
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
    // The request's time budget starts now, before its body is read.
    let received = Instant::now();
    let engine = shared.load_full();
    let (mut parts, body) = request.into_parts();
    let remote = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| engine.proxies.client(addr.ip(), &parts.headers));
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
    // What errors found before the pipeline (reading the body, the method) are answered as.
    let media = crate::pipeline::request::negotiate(&parts.headers).unwrap_or(MediaType::Unstated);
    let mut response = match read_body(&engine, &parts.headers, body, received, media).await {
        Err(refused) => refused,
        Ok(body) => match (kind, Streaming::accepted(&parts.headers)) {
            (Some(kind), _) => {
                single_connection::respond(
                    &shared,
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
            (None, Some(streaming))
                if parts.method == Method::GET || parts.method == Method::POST =>
            {
                subscriptions::streaming::respond(
                    &shared,
                    streaming,
                    &parts.method,
                    &parts.headers,
                    parts.uri.query(),
                    &body,
                    remote,
                )
                .await
            }
            _ => respond(&engine, &parts, &body, remote, received, media).await,
        },
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
    body: &[u8],
    remote: Option<std::net::IpAddr>,
    received: Instant,
    media: MediaType,
) -> Response {
    if parts.method == Method::GET
        && engine.config.playground.enabled
        && playground::accepts_html(&parts.headers)
        && !parts.uri.query().is_some_and(|q| q.contains("query="))
    {
        return playground::page();
    }
    if parts.method != Method::GET && parts.method != Method::POST {
        return encode(pipeline::encode_error(&RequestError::GetOrPost, media));
    }
    let response = pipeline::run(
        engine,
        HttpRequest {
            method: &parts.method,
            headers: &parts.headers,
            query_string: parts.uri.query(),
            body,
            remote,
        },
        received,
    )
    .await;
    encode(response)
}

/// The request body, up to the configured size, within the body read timeout and what is left
/// of the request's budget.
async fn read_body(
    engine: &Engine,
    headers: &axum::http::HeaderMap,
    body: Body,
    received: Instant,
    media: MediaType,
) -> Result<bytes::Bytes, Response> {
    let refuse = |error: RequestError| encode(pipeline::encode_error(&error, media));
    // What the decompression layer decoded has lost its `Content-Encoding`; what is left is
    // an encoding the router does not read.
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING)
        && !encoding.as_bytes().eq_ignore_ascii_case(b"identity")
    {
        return Err(refuse(RequestError::UnsupportedEncoding));
    }
    let limit = engine.config.limits.max_body_bytes;
    let read_for = engine
        .config
        .server
        .body_read_timeout_ms
        .min(engine.config.traffic.timeout_ms);
    let deadline = received + std::time::Duration::from_millis(read_for);
    let mut frames = body.into_data_stream();
    let read = async {
        let mut body = Collected::new(limit);
        while let Some(chunk) = frames.next().await {
            let chunk = chunk.map_err(|_| RequestError::BodyUnreadable)?;
            body.push(chunk)
                .map_err(|_| RequestError::PayloadTooLarge(limit))?;
        }
        Ok(body.finish())
    };
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => Err(refuse(error)),
        Err(_) => Err(refuse(RequestError::BodyReadTimeout(read_for))),
    }
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
    if shared.load().config.server.tls != next.config.server.tls {
        tracing::warn!(
            "server.tls changed: which certificate files are served is read at start (their \
             contents are watched); restart the router to serve other files"
        );
    }
    let previous = shared.swap(Arc::new(next));
    previous.subscriptions.reloaded();
    if !Arc::ptr_eq(&previous.subscriptions, &registry) {
        registry.reloaded();
    }
}

/// A router serving on a listener, until [`RouterServer::shutdown`].
pub struct RouterServer {
    addr: SocketAddr,
    scheme: &'static str,
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
        let tls = tls_of(&engine)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(listener, engine.clone(), tls, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            addr,
            scheme,
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
            Some(path) => GatewayConfig::load_in(path, sources.mode)?,
            None => GatewayConfig::parse_in("", sources.mode)?,
        };
        let mut server = Self::start(listener, &sdl, config).await?;
        server.watcher = reload::watch(server.engine.clone(), sources);
        Ok(server)
    }

    /// The base URL, e.g. `http://127.0.0.1:4000` (`https://` with `server.tls`).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
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

/// The TLS acceptor `server.tls` asks for, watched like the other files.
fn tls_of(engine: &SharedEngine) -> anyhow::Result<Option<Arc<tls::Tls>>> {
    let current = engine.load();
    let config = &current.config;
    config
        .server
        .tls
        .as_ref()
        .map(|tls| {
            tls::Tls::start(
                tls,
                config
                    .reload
                    .watch
                    .then(|| std::time::Duration::from_millis(config.reload.interval_ms.max(10))),
            )
        })
        .transpose()
}

/// Serves `engine` on `listener` until `shutdown` completes, then drains in-flight requests.
///
/// Each connection runs under the listener's timers and limits ([`connection`]); at most
/// `server.max_connections` are open at once, further clients waiting in the listen queue.
/// With `server.tls`, each connection's TLS handshake must finish within the header read
/// timeout. Open subscriptions end with `complete` and WebSockets close (1001) when shutdown
/// begins, so that long-lived streams do not hold the drain forever.
pub async fn serve(
    listener: TcpListener,
    engine: SharedEngine,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = tls_of(&engine).map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    serve_with(listener, engine, tls, shutdown).await
}

async fn serve_with(
    listener: TcpListener,
    engine: SharedEngine,
    tls: Option<Arc<tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = app(engine.clone());
    let slots = Arc::new(Semaphore::new(engine.load().config.server.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let config = engine.load().config.server.clone();
        let _ = stream.set_nodelay(true);
        let service = PerConnection {
            router: router.clone(),
            remote,
            watch: Watch::new(),
        };
        // Taken now, so that the drain also waits for a connection still in its handshake.
        let watcher = graceful.watcher();
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        tokio::spawn(async move {
            match acceptor {
                None => serve_connection(stream, service, &config, watcher).await,
                Some(acceptor) => {
                    let handshake = std::time::Duration::from_millis(config.header_read_timeout_ms);
                    match tokio::time::timeout(handshake, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            serve_connection(stream, service, &config, watcher).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    engine.load().subscriptions.close();
    // In-flight requests finish within their own timeout; a connection that holds on past it
    // (a client that stopped reading) does not hold the process.
    let drain = std::time::Duration::from_millis(engine.load().config.traffic.timeout_ms)
        + std::time::Duration::from_secs(5);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain; closing them");
    }
    Ok(())
}

/// Serves HTTP/1.1 and HTTP/2 on one connection (plain or TLS) under its timers and limits.
async fn serve_connection<I>(
    io: I,
    service: PerConnection,
    config: &crate::config::ServerConfig,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let remote = service.remote;
    let io = TokioIo::new(Guarded::new(io, service.watch.clone(), Timers::of(config)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(config.max_header_bytes)
        .max_headers(config.max_headers)
        // The connection's own timers replace hyper's (see `connection`).
        .header_read_timeout(None);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        // A peer that stops answering pings is gone, whatever its streams wait for.
        .keep_alive_interval(Some(std::time::Duration::from_secs(20)))
        .keep_alive_timeout(std::time::Duration::from_secs(20))
        .max_concurrent_streams(config.max_concurrent_streams)
        .max_header_list_size(u32::try_from(config.max_header_bytes).unwrap_or(u32::MAX));
    let connection = watcher.watch(
        builder
            .serve_connection_with_upgrades(io, service)
            .into_owned(),
    );
    if let Err(e) = connection.await {
        tracing::debug!(%remote, error = %e, "connection ended");
    }
}

/// After a failed `accept`: a connection that failed before it was accepted is the client's
/// business; anything else (out of file descriptors) is waited out rather than spun on.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::warn!(error = %error, "accepting a connection failed; retrying in 100 ms");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
}

/// The router as one connection serves it: the client's address attached to each request,
/// and each request tracked until its response has been written.
#[derive(Clone)]
struct PerConnection {
    router: Router,
    remote: SocketAddr,
    watch: Arc<Watch>,
}

impl hyper::service::Service<Request<hyper::body::Incoming>> for PerConnection {
    type Response = Response<Tracked>;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>,
    >;

    fn call(&self, mut request: Request<hyper::body::Incoming>) -> Self::Future {
        let in_flight = self.watch.request();
        request.extensions_mut().insert(ConnectInfo(self.remote));
        let router = self.router.clone();
        Box::pin(async move {
            let response = match router.oneshot(request.map(Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.status() == StatusCode::SWITCHING_PROTOCOLS {
                in_flight.upgraded();
            }
            Ok(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

/// A response body that keeps its request in flight until it has been written out.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
