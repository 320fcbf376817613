//! GraphQL over WebSocket at the router: graphql-transport-ws, and the legacy graphql-ws
//! (subscriptions-transport-ws) protocol for older clients.
//!
//! The caller's token travels in `connection_init` (in any of the shapes
//! [`connection_params`](super::connection_params) reads), or in the upgrade request itself
//! (a cookie, say); it is verified before `connection_ack`, and when
//! it expires every operation of the connection ends with `TOKEN_EXPIRED` and the connection
//! closes. Each `subscribe` (`start`) is charged against the rate limits like a request.
//!
//! Closing is the RFC 6455 handshake both ways: a client's Close frame is answered with one
//! echoing its code before the router closes the TCP connection, and the router's own closes
//! (4400, 4401, 4403, 4408, 4409, 4429, 1001 at shutdown) send a Close frame, then read until
//! the client's answer before the connection ends, so clients see the code rather than 1006.

use std::collections::HashSet;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt as _};
use http::{HeaderMap, StatusCode};
use serde_json::Value as Json;
use tokio_stream::StreamMap;

use super::{Frame, Opened, connection_params, expired, expiry, open, request_errors};
use crate::edge::jwt::Identity;
use crate::pipeline::HttpRequest;
use crate::pipeline::authenticate::authenticate;
use crate::pipeline::request::{GraphQLRequest, RequestError};
use crate::server::SharedEngine;

/// The WebSocket subprotocols the router speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library's protocol).
    TransportWs,
    /// `graphql-ws` (the legacy subscriptions-transport-ws protocol).
    Legacy,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// The protocol for the client's `Sec-WebSocket-Protocol` offer: graphql-transport-ws when
    /// offered or when nothing is, the legacy one when only it is offered.
    pub fn choose(headers: &HeaderMap) -> Option<Protocol> {
        let offered: Vec<&str> = headers
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        if offered.is_empty() || offered.contains(&"graphql-transport-ws") {
            Some(Protocol::TransportWs)
        } else if offered.contains(&"graphql-ws") {
            Some(Protocol::Legacy)
        } else {
            None
        }
    }
}

/// Whether the page that opens this WebSocket may: no `Origin` (not a browser), the router's
/// own origin (the `Host` it was reached at), or one of the allowed origins.
fn origin_allowed(config: &crate::config::GatewayConfig, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(http::header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    let same_site = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
        });
    let listed = config
        .subscriptions
        .allowed_origins
        .as_ref()
        .unwrap_or(&config.cors.allow_origins);
    same_site
        || listed.iter().any(|allowed| {
            allowed == "*" || allowed.trim_end_matches('/').eq_ignore_ascii_case(origin)
        })
}

/// Socket buffers are small: a subscription connection carries small messages, and there may
/// be tens of thousands of them.
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// Answers a WebSocket upgrade on `/graphql`.
pub fn upgrade(
    shared: SharedEngine,
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    remote: Option<IpAddr>,
) -> Response {
    let engine = shared.load();
    if !engine.config.subscriptions.enabled {
        return (StatusCode::NOT_FOUND, "subscriptions are disabled").into_response();
    }
    if !origin_allowed(&engine.config, &headers) {
        return crate::server::encode(crate::pipeline::encode_error(
            &RequestError::OriginNotAllowed,
            crate::pipeline::request::MediaType::Json,
        ));
    }
    let max_message = engine.config.limits.max_body_bytes;
    let max_frame = engine
        .config
        .server
        .websocket_max_frame_bytes
        .min(max_message);
    drop(engine);
    let Some(protocol) = Protocol::choose(&headers) else {
        return (
            StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws or graphql-ws subprotocol",
        )
            .into_response();
    };
    upgrade
        .protocols([protocol.name()])
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(max_message)
        .max_frame_size(max_frame)
        .on_upgrade(move |socket| {
            Connection {
                socket,
                protocol,
                shared,
                headers: Arc::new(headers),
                remote,
                identity: None,
                initialised: false,
                active: HashSet::new(),
                streams: StreamMap::new(),
                opening: FuturesUnordered::new(),
            }
            .serve()
        })
}

type Frames = Pin<Box<dyn Stream<Item = Frame> + Send>>;
type Opening = Pin<Box<dyn Future<Output = (String, Result<Opened, RequestError>)> + Send>>;

struct Connection {
    socket: WebSocket,
    protocol: Protocol,
    shared: SharedEngine,
    /// The upgrade request's headers, with what `connection_init` carried.
    headers: Arc<HeaderMap>,
    remote: Option<IpAddr>,
    identity: Option<Identity>,
    initialised: bool,
    /// Operation ids opening or streaming.
    active: HashSet<String>,
    streams: StreamMap<String, Frames>,
    opening: FuturesUnordered<Opening>,
}

/// Why the connection ends.
struct Close(u16, String);

/// How long a closing connection waits for the client to answer its Close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// A Close frame's payload is at most 125 bytes, two of them the code: a longer reason (one
/// quoting a client's operation id, say) would make the frame invalid, so it is cut short at a
/// character boundary.
fn close_reason(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

impl Connection {
    async fn serve(mut self) {
        let config = self.shared.load().config.subscriptions.clone();
        let init_deadline =
            tokio::time::Instant::now() + Duration::from_millis(config.init_timeout_ms);
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_millis(config.keepalive_ms),
            Duration::from_millis(config.keepalive_ms),
        );
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut expires: Option<tokio::time::Instant> = None;
        let mut closing = self.shared.load().subscriptions.closing();
        let close = loop {
            let outcome = tokio::select! {
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => self.on_message(&text, &mut expires).await,
                    Some(Ok(Message::Binary(_))) => Err(Close(4400, "binary messages are not part of the protocol".into())),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Ok(Message::Close(_))) => return self.answer_close().await,
                    Some(Err(_)) | None => return,
                },
                Some((id, frame)) = self.streams.next() => self.on_frame(id, frame).await,
                Some((id, opened)) = self.opening.next(), if !self.opening.is_empty() => {
                    self.on_opened(id, opened).await
                }
                _ = keepalive.tick() => {
                    let message = match self.protocol {
                        Protocol::TransportWs => r#"{"type":"ping"}"#,
                        Protocol::Legacy => r#"{"type":"ka"}"#,
                    };
                    if self.initialised || self.protocol == Protocol::TransportWs {
                        self.send(message.to_owned()).await
                    } else {
                        Ok(())
                    }
                }
                () = tokio::time::sleep_until(init_deadline), if !self.initialised => {
                    Err(Close(4408, "Connection initialisation timeout".into()))
                }
                () = super::until(expires) => self.on_expired().await,
                () = super::channel::closed(&mut closing) => {
                    Err(Close(1001, "the router is shutting down".into()))
                }
            };
            if let Err(close) = outcome {
                break close;
            }
        };
        self.close(close).await;
    }

    /// Answers the client's Close frame. The WebSocket library queued the answer (a Close
    /// frame echoing the client's code) when it read the client's; flushing sends it, after
    /// which the connection is closed, cleanly: the client sees its own code, not 1006.
    async fn answer_close(&mut self) {
        let _ = futures::SinkExt::flush(&mut self.socket).await;
    }

    /// Closes the connection from this side: a Close frame with `code` and its reason, then
    /// whatever the client still sends is read (and dropped) until its own Close answers, for
    /// at most [`CLOSE_TIMEOUT`]. Closing the TCP connection with unread data in it would reset
    /// it, and the client could lose the Close frame and report 1006.
    async fn close(&mut self, Close(code, reason): Close) {
        // The operations end now, not when the client gets round to answering: their
        // subgraph subscriptions and channels are released before the wait below.
        self.streams.clear();
        self.opening.clear();
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(close_reason(reason)),
        };
        if self.socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(_)) = self.socket.recv().await {}
        })
        .await;
    }

    async fn send(&mut self, text: String) -> Result<(), Close> {
        self.socket
            .send(Message::Text(Utf8Bytes::from(text)))
            .await
            .map_err(|_| Close(1011, "the connection failed".into()))
    }

    /// Sends `frame` of operation `id` in the protocol's words.
    async fn send_frame(&mut self, id: &str, frame: &Frame) -> Result<(), Close> {
        let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
        let (kind, payload): (&str, Option<&Bytes>) = match (self.protocol, frame) {
            (Protocol::TransportWs, Frame::Next(p)) => ("next", Some(p)),
            (Protocol::Legacy, Frame::Next(p)) => ("data", Some(p)),
            (_, Frame::Error(p)) => ("error", Some(p)),
            (_, Frame::Complete) => ("complete", None),
        };
        let mut text = String::with_capacity(32 + payload.map_or(0, |p| p.len()));
        text.push_str(r#"{"id":"#);
        text.push_str(&id);
        text.push_str(r#","type":""#);
        text.push_str(kind);
        text.push('"');
        if let Some(payload) = payload {
            text.push_str(r#","payload":"#);
            text.push_str(std::str::from_utf8(payload).unwrap_or("null"));
        }
        text.push('}');
        self.send(text).await
    }

    async fn on_frame(&mut self, id: String, frame: Frame) -> Result<(), Close> {
        if frame.is_terminal() {
            self.streams.remove(&id);
            self.active.remove(&id);
        }
        self.send_frame(&id, &frame).await
    }

    async fn on_opened(
        &mut self,
        id: String,
        opened: Result<Opened, RequestError>,
    ) -> Result<(), Close> {
        if !self.active.contains(&id) {
            // Completed by the client while it was opening.
            return Ok(());
        }
        match opened {
            Ok(Opened::Stream(subscription)) => {
                self.streams
                    .insert(id, Box::pin(subscription.into_stream()) as Frames);
                Ok(())
            }
            Ok(Opened::Once(response)) => {
                self.active.remove(&id);
                self.send_frame(&id, &Frame::Next(response)).await?;
                self.send_frame(&id, &Frame::Complete).await
            }
            Err(error) => {
                self.active.remove(&id);
                self.send_frame(&id, &Frame::Error(request_errors(&error)))
                    .await
            }
        }
    }

    async fn on_expired(&mut self) -> Result<(), Close> {
        let ids: Vec<String> = self.active.drain().collect();
        self.streams.clear();
        self.opening.clear();
        let frame = expired();
        for id in ids {
            self.send_frame(&id, &frame).await?;
        }
        Err(Close(
            4403,
            "Forbidden: the access token has expired".into(),
        ))
    }

    async fn on_message(
        &mut self,
        text: &str,
        expires: &mut Option<tokio::time::Instant>,
    ) -> Result<(), Close> {
        let Ok(Json::Object(mut message)) = serde_json::from_str::<Json>(text) else {
            return Err(Close(4400, "Invalid message received".into()));
        };
        let kind = match message.get("type") {
            Some(Json::String(kind)) => kind.clone(),
            _ => return Err(Close(4400, "Invalid message received".into())),
        };
        let id = match message.get("id") {
            Some(Json::String(id)) => Some(id.clone()),
            _ => None,
        };
        let payload = message.remove("payload");
        match (self.protocol, kind.as_str()) {
            (_, "connection_init") => {
                if self.initialised {
                    return Err(Close(4429, "Too many initialisation requests".into()));
                }
                match self.initialise(payload).await {
                    Ok(identity) => {
                        *expires = identity.as_ref().and_then(expiry);
                        self.identity = identity;
                        self.initialised = true;
                        self.send(r#"{"type":"connection_ack"}"#.to_owned()).await?;
                        if self.protocol == Protocol::Legacy {
                            self.send(r#"{"type":"ka"}"#.to_owned()).await?;
                        }
                        Ok(())
                    }
                    Err(error) => match self.protocol {
                        Protocol::TransportWs => Err(Close(4403, format!("Forbidden: {error}"))),
                        Protocol::Legacy => {
                            let errors = request_errors(&error);
                            let errors = std::str::from_utf8(&errors).unwrap_or("[]").to_owned();
                            self.send(format!(
                                r#"{{"type":"connection_error","payload":{errors}}}"#
                            ))
                            .await?;
                            Err(Close(4403, format!("Forbidden: {error}")))
                        }
                    },
                }
            }
            (Protocol::TransportWs, "ping") => self.send(r#"{"type":"pong"}"#.to_owned()).await,
            (Protocol::TransportWs, "pong") => Ok(()),
            (Protocol::TransportWs, "subscribe") | (Protocol::Legacy, "start") => {
                if !self.initialised {
                    return Err(Close(4401, "Unauthorized".into()));
                }
                let Some(id) = id else {
                    return Err(Close(4400, "the message has no id".into()));
                };
                if self.active.contains(&id) {
                    return Err(Close(4409, format!("Subscriber for {id} already exists")));
                }
                self.subscribe(id, payload).await
            }
            (Protocol::TransportWs, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(id) = id {
                    let was_active = self.active.remove(&id);
                    self.streams.remove(&id);
                    if was_active && self.protocol == Protocol::Legacy {
                        return self.send_frame(&id, &Frame::Complete).await;
                    }
                }
                Ok(())
            }
            (Protocol::Legacy, "connection_terminate") => Err(Close(1000, "Normal Closure".into())),
            _ => Err(Close(4400, format!("Invalid message type {kind}"))),
        }
    }

    /// Verifies the token `connection_init` carries (or the upgrade request did).
    async fn initialise(
        &mut self,
        payload: Option<Json>,
    ) -> Result<Option<Identity>, RequestError> {
        let engine = self.shared.load_full();
        let headers = connection_params::headers(&engine.config, &self.headers, payload)?;
        let identity = authenticate(&engine, &headers).await?;
        self.headers = Arc::new(headers);
        Ok(identity)
    }

    async fn subscribe(&mut self, id: String, payload: Option<Json>) -> Result<(), Close> {
        let limit = self.shared.load().config.subscriptions.max_per_connection;
        let request = match payload.map(serde_json::from_value::<GraphQLRequest>) {
            Some(Ok(request)) => request,
            _ => {
                let error = RequestError::BadParameter(
                    "the payload must be a GraphQL request (query, variables, operationName)"
                        .into(),
                );
                return self
                    .send_frame(&id, &Frame::Error(request_errors(&error)))
                    .await;
            }
        };
        if self.active.len() >= limit {
            let error = RequestError::TooManyOperations(limit);
            return self
                .send_frame(&id, &Frame::Error(request_errors(&error)))
                .await;
        }
        self.active.insert(id.clone());
        let shared = self.shared.clone();
        let identity = self.identity.clone();
        let headers = self.headers.clone();
        let remote = self.remote;
        self.opening.push(Box::pin(async move {
            let http = HttpRequest {
                method: &http::Method::POST,
                headers: &headers,
                query_string: None,
                body: &[],
                remote,
            };
            let mut ignored = HeaderMap::new();
            let opened = open(&shared, identity, request, &http, &mut ignored).await;
            (id, opened)
        }));
        Ok(())
    }
}
