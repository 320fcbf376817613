//! GraphQL over SSE, single connection mode (the graphql-sse protocol): one event stream
//! carries all of a client's operations, which browsers on HTTP/1 need (they hold at most six
//! connections to a site).
//!
//! 1. `PUT /graphql` reserves a stream and answers `201` with its token (plain text). The
//!    reservation belongs to the caller: the JWT that authenticated the `PUT`, or nobody.
//! 2. `GET /graphql` with `Accept: text/event-stream` and the token (the
//!    `X-GraphQL-Event-Stream-Token` header, or `?token=`, which counts only there) opens the
//!    stream; a reservation has one stream at most, and one not opened within
//!    `reservation_timeout_ms` expires.
//! 3. `POST /graphql` with the token and `{query, variables, extensions: {operationId}}`
//!    starts an operation through the same [`open`] as every transport and answers `202`; its
//!    results go to the stream as `next` events with data `{"id", "payload"}`, then a
//!    `complete` event with data `{"id"}`. A query or mutation sends its one result. A request
//!    refused before it starts gets its error response (4xx) instead.
//! 4. `DELETE /graphql?operationId=…` with the token stops an operation.
//!
//! Every request after the `PUT` is authenticated again and must come from the same caller,
//! so a token that leaked (in a URL, say) does not hand a signed-in caller's stream to someone
//! else (an anonymous reservation is anyone's who holds its token). Events of
//! operations started before the stream opens (at most [`UNOPENED_OPERATIONS`], then
//! `STREAM_NOT_OPEN`) wait in its buffer. The stream's end (the
//! client going away, its token expiring, the router shutting down) ends its operations and
//! the reservation.

use std::collections::HashMap;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use apollo_compiler::response::JsonValue;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, watch};

use super::streaming::{Streaming, sse_event};
use super::{Frame, Opened, expired, expiry, open};
use crate::edge::jwt::Identity;
use crate::pipeline::request::{MediaType, RequestError};
use crate::pipeline::{self, Engine, HttpRequest, admit, authenticate};
use crate::server::SharedEngine;

/// The header that carries a reservation's token.
pub const TOKEN_HEADER: &str = "x-graphql-event-stream-token";

/// What a single connection mode request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PUT`: reserve a stream.
    Reserve,
    /// A request for the event stream with a token: open it.
    Connect,
    /// A GraphQL request with a token: start an operation on the stream.
    Execute,
    /// `DELETE`: stop an operation.
    Stop,
}

impl Kind {
    /// The single connection mode request `method` and `headers` make, if any: a `PUT` or
    /// `DELETE`, or a `GET`/`POST` that carries a reservation token in its header. The
    /// `token` query parameter counts only on a `GET` for the event stream (all an
    /// `EventSource` can send), so that an ordinary request with such a parameter stays one.
    pub fn of(method: &Method, headers: &HeaderMap, query: Option<&str>) -> Option<Kind> {
        // Only requests that can be single connection ones pay for reading `Accept`.
        let sse = || Streaming::accepted(headers) == Some(Streaming::Sse);
        match *method {
            Method::PUT => Some(Kind::Reserve),
            Method::DELETE => Some(Kind::Stop),
            Method::GET | Method::POST if headers.contains_key(TOKEN_HEADER) => {
                Some(if sse() { Kind::Connect } else { Kind::Execute })
            }
            Method::GET if query.is_some_and(|q| q.contains("token=")) && sse() => {
                query_token(query).map(|_| Kind::Connect)
            }
            _ => None,
        }
    }
}

/// The reservations by token; one set serves every engine a reload brings.
#[derive(Default)]
pub struct Reservations {
    by_token: Mutex<HashMap<String, Arc<Reservation>>>,
    /// Reservations whose stream is not open yet.
    waiting: AtomicUsize,
    /// Those by client, so that one client cannot take every place.
    waiting_by: Mutex<HashMap<Client, usize>>,
}

/// Whom a waiting reservation is counted against: the caller's token digest, else (for an
/// anonymous caller) its address as the router sees it, an IPv6 address by its `/64` (what
/// one site usually holds). Callers of unknown address share one count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Client {
    Token([u8; 32]),
    Address(IpAddr),
    Unknown,
}

impl Client {
    fn of(owner: Option<[u8; 32]>, remote: Option<IpAddr>) -> Client {
        match (owner, remote) {
            (Some(digest), _) => Client::Token(digest),
            (None, Some(IpAddr::V6(v6))) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Address(IpAddr::V4(v4)),
                None => Client::Address(IpAddr::V6((u128::from(v6) & !(u128::MAX >> 64)).into())),
            },
            (None, Some(v4)) => Client::Address(v4),
            (None, None) => Client::Unknown,
        }
    }
}

impl std::fmt::Debug for Reservations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservations")
            .field("reservations", &self.lock().len())
            .field("waiting", &self.waiting.load(Ordering::SeqCst))
            .finish()
    }
}

/// One reserved stream and the operations started on it.
struct Reservation {
    token: String,
    /// Who made it: a digest of the caller's token, `None` for an anonymous caller.
    owner: Option<[u8; 32]>,
    /// Whom it is counted against while it waits.
    client: Client,
    state: Mutex<State>,
}

struct State {
    /// The stream's end of the events, until the stream opens.
    events: Option<mpsc::Receiver<Bytes>>,
    sender: mpsc::Sender<Bytes>,
    operations: HashMap<String, Operation>,
    /// Numbers operations, so that one that ends does not remove a later one with its id.
    serial: u64,
    /// Operations started while the stream is not open: their results wait in memory, so
    /// there are at most [`UNOPENED_OPERATIONS`].
    started_unopened: usize,
}

/// Operations that may start on a reservation before its stream opens. graphql-sse's client
/// opens the stream before it starts any; a few leave room for clients that do not wait.
pub const UNOPENED_OPERATIONS: usize = 4;

enum Operation {
    /// Its request is being prepared.
    Opening(u64),
    /// Its frames are being sent to the stream.
    Running(u64, tokio::task::AbortHandle),
}

impl Operation {
    fn serial(&self) -> u64 {
        match self {
            Operation::Opening(serial) | Operation::Running(serial, _) => *serial,
        }
    }

    fn stop(self) {
        if let Operation::Running(_, task) = self {
            task.abort();
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.lock().end();
    }
}

impl State {
    /// Stops every operation; their ids, for the events that tell the client.
    fn end(&mut self) -> Vec<String> {
        self.operations
            .drain()
            .map(|(id, operation)| {
                operation.stop();
                id
            })
            .collect()
    }
}

impl Reservation {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `frames` of operation `id` to the stream, unless the operation was stopped while
    /// it was being prepared (then `false`).
    fn run(self: &Arc<Self>, id: &str, serial: u64, frames: Frames) -> bool {
        let mut state = self.lock();
        if !matches!(state.operations.get(id), Some(Operation::Opening(s)) if *s == serial) {
            return false;
        }
        let sender = state.sender.clone();
        let reservation = Arc::downgrade(self);
        let owned = id.to_owned();
        let task = tokio::spawn(async move {
            let mut frames = frames;
            while let Some(frame) = frames.next().await {
                let terminal = frame.is_terminal();
                if sender.send(sse_event(&frame, Some(&owned))).await.is_err() || terminal {
                    break;
                }
            }
            if let Some(reservation) = reservation.upgrade() {
                reservation.finished(&owned, serial);
            }
        });
        state.operations.insert(
            id.to_owned(),
            Operation::Running(serial, task.abort_handle()),
        );
        true
    }

    /// Forgets operation `id` (number `serial`), which ended.
    fn finished(&self, id: &str, serial: u64) {
        let mut state = self.lock();
        if state
            .operations
            .get(id)
            .is_some_and(|o| o.serial() == serial)
        {
            state.operations.remove(id);
        }
    }
}

type Frames = Pin<Box<dyn Stream<Item = Frame> + Send>>;

impl Reservations {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Reservation>>> {
        self.by_token.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn find(&self, token: Option<&str>) -> Result<Arc<Reservation>, RequestError> {
        token
            .and_then(|token| self.lock().get(token).cloned())
            .ok_or(RequestError::StreamNotFound)
    }

    /// Removes `reservation` (if it is still the one under its token).
    fn remove(&self, reservation: &Arc<Reservation>) {
        let mut all = self.lock();
        if all
            .get(&reservation.token)
            .is_some_and(|r| Arc::ptr_eq(r, reservation))
        {
            all.remove(&reservation.token);
        }
    }

    /// Takes a place among the waiting reservations for `client`, unless it holds
    /// `per_client` already or all `total` are taken.
    fn start_waiting(
        &self,
        client: Client,
        per_client: usize,
        total: usize,
    ) -> Result<(), RequestError> {
        let mut by = self.waiting_by.lock().unwrap_or_else(|p| p.into_inner());
        let held = by.get(&client).copied().unwrap_or(0);
        if held >= per_client {
            return Err(RequestError::TooManyReservations);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= total {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(RequestError::TooManyReservations);
        }
        by.insert(client, held + 1);
        Ok(())
    }

    /// Gives back the place `reservation` took while it waited (its stream opened, or it
    /// expired).
    fn stopped_waiting(&self, reservation: &Reservation) {
        let mut by = self.waiting_by.lock().unwrap_or_else(|p| p.into_inner());
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if let Some(held) = by.get_mut(&reservation.client) {
            *held -= 1;
            if *held == 0 {
                by.remove(&reservation.client);
            }
        }
    }

    /// Removes the reservation under `token` if its stream was never opened.
    fn expire(&self, token: &str) {
        let Some(reservation) = self.lock().get(token).cloned() else {
            return;
        };
        let unopened = reservation.lock().events.take().is_some();
        if unopened {
            self.stopped_waiting(&reservation);
            self.remove(&reservation);
            reservation.lock().end();
        }
    }
}

/// The reservation token a request carries: the header, or the `token` query parameter of
/// a `GET` for the event stream.
fn token(request: &Request<'_>) -> Option<String> {
    if let Some(value) = request.headers.get(TOKEN_HEADER) {
        return value.to_str().ok().map(str::to_owned);
    }
    if request.kind == Kind::Connect && *request.method == Method::GET {
        return query_token(request.query_string);
    }
    None
}

fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "token")
        .map(|(_, value)| value.into_owned())
}

/// A request of the single connection mode, read.
pub struct Request<'a> {
    pub kind: Kind,
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query_string: Option<&'a str>,
    pub body: &'a [u8],
    pub remote: Option<IpAddr>,
}

/// Answers a single connection mode request. Refusals are GraphQL error responses with
/// 4xx/5xx statuses whatever the `Accept` (a client of this mode takes anything but its
/// expected status as a failure).
pub async fn respond(shared: &SharedEngine, request: Request<'_>) -> Response {
    let engine = shared.load_full();
    let mut out_headers = HeaderMap::new();
    let answer = if engine.config.subscriptions.enabled
        && engine.config.subscriptions.single_connection.enabled
    {
        match request.kind {
            Kind::Reserve => reserve(&engine, &request, &mut out_headers).await,
            Kind::Connect => connect(&engine, &request).await,
            Kind::Execute => execute(shared, &engine, &request, &mut out_headers).await,
            Kind::Stop => stop(&engine, &request).await,
        }
    } else if matches!(request.kind, Kind::Reserve | Kind::Stop) {
        // Without the mode, `/graphql` takes GET and POST only.
        Err(RequestError::GetOrPost)
    } else {
        Err(RequestError::SingleConnectionDisabled)
    };
    let mut response = match answer {
        Ok(response) => response,
        Err(error) => {
            crate::server::encode(pipeline::encode_error(&error, MediaType::GraphQLResponse))
        }
    };
    response.headers_mut().extend(out_headers);
    response
}

/// The caller, and the digest a reservation remembers it by.
async fn caller(
    engine: &Engine,
    headers: &HeaderMap,
) -> Result<(Option<Identity>, Option<[u8; 32]>), RequestError> {
    let identity = authenticate::authenticate(engine, headers).await?;
    let owner = identity
        .as_ref()
        .map(|identity| Sha256::digest(identity.token.as_bytes()).into());
    Ok((identity, owner))
}

/// The reservation the request names, if its caller made it.
async fn owned(
    engine: &Engine,
    request: &Request<'_>,
) -> Result<(Arc<Reservation>, Option<Identity>), RequestError> {
    let reservation = engine.reservations.find(token(request).as_deref())?;
    let (identity, owner) = caller(engine, request.headers).await?;
    if owner != reservation.owner {
        return Err(RequestError::StreamForbidden);
    }
    Ok((reservation, identity))
}

fn http<'a>(request: &'a Request<'a>) -> HttpRequest<'a> {
    HttpRequest {
        method: request.method,
        headers: request.headers,
        query_string: request.query_string,
        body: request.body,
        remote: request.remote,
    }
}

/// `PUT`: a new reservation for the caller, charged to the rate limits like a request.
async fn reserve(
    engine: &Arc<Engine>,
    request: &Request<'_>,
    out_headers: &mut HeaderMap,
) -> Result<Response, RequestError> {
    let (identity, owner) = caller(engine, request.headers).await?;
    admit::admit(engine, identity.as_ref(), &http(request), None, out_headers).await?;
    let config = &engine.config.subscriptions;
    let reservations = &engine.reservations;
    let client = Client::of(owner, request.remote);
    reservations.start_waiting(
        client,
        config.single_connection.max_reservations_per_client,
        config.single_connection.max_reservations,
    )?;
    let token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let (sender, events) = mpsc::channel(config.buffer);
    let reservation = Arc::new(Reservation {
        token: token.clone(),
        owner,
        client,
        state: Mutex::new(State {
            events: Some(events),
            sender,
            operations: HashMap::new(),
            serial: 0,
            started_unopened: 0,
        }),
    });
    reservations.lock().insert(token.clone(), reservation);
    let timeout = Duration::from_millis(config.single_connection.reservation_timeout_ms);
    let weak = Arc::downgrade(reservations);
    let expiring = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(reservations) = weak.upgrade() {
            reservations.expire(&expiring);
        }
    });
    let mut response = Response::new(axum::body::Body::from(token));
    *response.status_mut() = StatusCode::CREATED;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// `DELETE ?operationId=`: stops the operation (an unknown one is already stopped).
async fn stop(engine: &Engine, request: &Request<'_>) -> Result<Response, RequestError> {
    let (reservation, _) = owned(engine, request).await?;
    let id = form_urlencoded::parse(request.query_string.unwrap_or_default().as_bytes())
        .find(|(key, _)| key == "operationId")
        .map(|(_, value)| value.into_owned())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| RequestError::BadParameter("operationId is missing".into()))?;
    let stopped = reservation.lock().operations.remove(&id);
    if let Some(operation) = stopped {
        operation.stop();
    }
    Ok(Response::new(axum::body::Body::empty()))
}

/// A GraphQL request with the token: the operation starts, and its results go to the stream.
async fn execute(
    shared: &SharedEngine,
    engine: &Engine,
    request: &Request<'_>,
    out_headers: &mut HeaderMap,
) -> Result<Response, RequestError> {
    let (reservation, identity) = owned(engine, request).await?;
    let http = http(request);
    let graphql = pipeline::read_one(engine, &http)?;
    let id = match graphql
        .extensions
        .as_ref()
        .and_then(|e| e.get("operationId"))
    {
        Some(JsonValue::String(id)) if !id.as_str().is_empty() => id.as_str().to_owned(),
        Some(JsonValue::Number(id)) => id.to_string(),
        _ => {
            return Err(RequestError::BadParameter(
                "extensions.operationId is missing".into(),
            ));
        }
    };
    let limit = engine.config.subscriptions.max_per_connection;
    let serial = {
        let mut state = reservation.lock();
        if state.operations.contains_key(&id) {
            return Err(RequestError::OperationIdInUse);
        }
        if state.operations.len() >= limit {
            return Err(RequestError::TooManyOperations(limit));
        }
        if state.events.is_some() {
            if state.started_unopened >= UNOPENED_OPERATIONS {
                return Err(RequestError::StreamNotOpen(UNOPENED_OPERATIONS));
            }
            state.started_unopened += 1;
        }
        state.serial += 1;
        let serial = state.serial;
        state
            .operations
            .insert(id.clone(), Operation::Opening(serial));
        serial
    };
    // Released if the operation does not run: it was refused, or the request was cancelled
    // (the client went away) while it was being prepared.
    let slot = Slot {
        reservation: &reservation,
        id: &id,
        serial,
    };
    let frames: Frames = match open(shared, identity, graphql, &http, out_headers).await? {
        Opened::Stream(subscription) => Box::pin(subscription.into_stream()),
        Opened::Once(response) => Box::pin(futures::stream::iter([
            Frame::Next(response),
            Frame::Complete,
        ])),
    };
    std::mem::forget(slot);
    let status = if reservation.run(&id, serial, frames) {
        StatusCode::ACCEPTED
    } else {
        // Stopped while it was being prepared.
        StatusCode::NO_CONTENT
    };
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = status;
    Ok(response)
}

/// An operation's place on its reservation while it is being prepared; dropping it frees
/// the place (its id, and its share of `max_per_connection`).
struct Slot<'a> {
    reservation: &'a Reservation,
    id: &'a str,
    serial: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.reservation.finished(self.id, self.serial);
    }
}

/// The event stream of a reservation.
async fn connect(engine: &Engine, request: &Request<'_>) -> Result<Response, RequestError> {
    let (reservation, identity) = owned(engine, request).await?;
    let Some(events) = reservation.lock().events.take() else {
        // Opened already, or expired a moment ago.
        let current = engine.reservations.lock().get(&reservation.token).cloned();
        return Err(match current {
            Some(current) if Arc::ptr_eq(&current, &reservation) => RequestError::StreamAlreadyOpen,
            _ => RequestError::StreamNotFound,
        });
    };
    engine.reservations.stopped_waiting(&reservation);
    let keepalive = Duration::from_millis(engine.config.subscriptions.keepalive_ms);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let open = Open {
        reservations: Arc::downgrade(&engine.reservations),
        reservation,
        events,
        ticks,
        closing: engine.subscriptions.closing(),
        expires: identity.as_ref().and_then(expiry),
        first: true,
        done: false,
    };
    let body = futures::stream::unfold(open, |mut open| async move {
        // A comment at once: some browsers report the stream open only once bytes arrive.
        if std::mem::take(&mut open.first) {
            return Some((Ok::<_, std::convert::Infallible>(keepalive_comment()), open));
        }
        if open.done {
            return None;
        }
        let bytes = tokio::select! {
            event = open.events.recv() => event?,
            _ = open.ticks.tick() => keepalive_comment(),
            () = super::until(open.expires) => open.end(&expired()),
            () = super::channel::closed(&mut open.closing) => open.end(&Frame::Complete),
        };
        Some((Ok(bytes), open))
    });
    let mut response = Response::new(axum::body::Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

fn keepalive_comment() -> Bytes {
    Bytes::from_static(b":\n\n")
}

/// An open event stream; dropping it (the client went away, or the stream ended) ends the
/// reservation and its operations.
struct Open {
    reservations: Weak<Reservations>,
    reservation: Arc<Reservation>,
    events: mpsc::Receiver<Bytes>,
    ticks: tokio::time::Interval,
    closing: watch::Receiver<bool>,
    expires: Option<tokio::time::Instant>,
    first: bool,
    done: bool,
}

impl Open {
    /// Ends the stream: every operation gets `frame` (`complete`, or the errors that end it).
    fn end(&mut self, frame: &Frame) -> Bytes {
        self.done = true;
        let ids = self.reservation.lock().end();
        let mut out = BytesMut::new();
        for id in ids {
            out.extend_from_slice(&sse_event(frame, Some(&id)));
        }
        out.freeze()
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(reservations) = self.reservations.upgrade() {
            reservations.remove(&self.reservation);
        }
        self.reservation.lock().end();
    }
}
