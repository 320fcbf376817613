//! Live subscriptions.
//!
//! Clients subscribe over [`websocket`] (graphql-transport-ws and the legacy graphql-ws),
//! [`streaming`] (GraphQL over SSE, distinct connections; multipart HTTP) or
//! [`single_connection`] (GraphQL over SSE, one stream for all operations). Every transport comes
//! here, to [`open`]: the operation goes through the same lifecycle as a query (rate limits,
//! validation, limits, planning, authorization), then joins a [`channel`]: the subgraph
//! subscription ([`upstream`]) that feeds it, whose every event the rest of the plan completes
//! with the other subgraphs' fields. Identical subscriptions of one caller share a channel.
//!
//! Each subscriber reads the channel through a bounded buffer; one that falls behind is ended
//! with `SUBSCRIBER_TOO_SLOW` and never holds the others back.

pub mod channel;
pub mod connection_params;
pub mod single_connection;
pub mod streaming;
pub mod upstream;
pub mod websocket;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::broadcast;

use crate::edge::jwt::Identity;
use crate::json::Value;
use crate::pipeline::request::{GraphQLRequest, RequestError};
use crate::pipeline::{self, HttpRequest, admit};
use crate::server::SharedEngine;
pub use channel::Registry;
pub use single_connection::Reservations;

/// What a client subscription receives.
#[derive(Debug, Clone)]
pub enum Frame {
    /// An execution result, `{"data":…,"errors":[…]}`.
    Next(Bytes),
    /// The stream ended with these errors (a JSON array, each error with `extensions.code`).
    Error(Bytes),
    /// The stream ended.
    Complete,
}

impl Frame {
    /// The end of a stream with one router error.
    pub fn error(message: &str, code: &str) -> Frame {
        let error = crate::executor::error_value(message, code, None, None);
        Frame::Error(Bytes::from(
            serde_json::to_vec(&[error]).unwrap_or_else(|_| b"[]".to_vec()),
        ))
    }

    pub fn is_terminal(&self) -> bool {
        !matches!(self, Frame::Next(_))
    }
}

/// What a client's request opened.
pub enum Opened {
    /// A subscription: a stream of frames ending with [`Frame::Complete`] or [`Frame::Error`].
    Stream(Subscription),
    /// A query or mutation: its one response.
    Once(Bytes),
}

/// One client's subscription to a channel.
pub struct Subscription {
    // Held so the channel lives while anyone reads it.
    _channel: Arc<channel::Channel>,
    receiver: broadcast::Receiver<Frame>,
    done: bool,
}

impl Subscription {
    /// The next frame; `None` once a terminal frame was returned.
    pub async fn next(&mut self) -> Option<Frame> {
        if self.done {
            return None;
        }
        let frame = match self.receiver.recv().await {
            Ok(frame) => frame,
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!(missed, "a subscriber fell behind and was dropped");
                Frame::error(
                    "the subscriber could not keep up with its events and was dropped",
                    "SUBSCRIBER_TOO_SLOW",
                )
            }
            Err(broadcast::error::RecvError::Closed) => Frame::Complete,
        };
        self.done = frame.is_terminal();
        Some(frame)
    }

    /// The frames as a stream.
    pub fn into_stream(self) -> impl futures::Stream<Item = Frame> + Send + 'static {
        futures::stream::unfold(self, |mut s| async move { s.next().await.map(|f| (f, s)) })
    }
}

/// Opens the operation `request` for `identity`: a subscription joins (or starts) its channel;
/// a query or mutation runs once. `streaming` says the transport streams, so a GET may
/// subscribe. Errors before the stream starts are [`RequestError`]s.
pub async fn open(
    shared: &SharedEngine,
    identity: Option<Identity>,
    request: GraphQLRequest,
    http: &HttpRequest<'_>,
    out_headers: &mut http::HeaderMap,
) -> Result<Opened, RequestError> {
    let engine = shared.load_full();
    let limit = engine.config.traffic.timeout_ms;
    let started = async {
        admit::admit(
            &engine,
            identity.as_ref(),
            http,
            request.operation_name.as_deref(),
            out_headers,
        )
        .await?;
        let prepared =
            pipeline::prepare(&engine, identity.as_ref(), http, request.clone(), true).await?;
        if !prepared.operation.operation_type.is_subscription() {
            let response = prepared.execute(&engine).await?;
            return Ok(Err(Bytes::from(response.encode(None))));
        }
        Ok(Ok(prepared))
    };
    let prepared = match tokio::time::timeout(Duration::from_millis(limit), started)
        .await
        .unwrap_or(Err(RequestError::Timeout(limit)))?
    {
        Ok(prepared) => prepared,
        Err(once) => return Ok(Opened::Once(once)),
    };
    if !engine.config.subscriptions.enabled {
        return Err(RequestError::SubscriptionUnsupported);
    }
    let request = request.resolved(prepared.supplied.clone());
    let live = match channel::Live::new(engine.clone(), prepared) {
        Ok(live) => live,
        // Nothing left to subscribe to (authorization removed the field): the errors say why.
        Err(errors) => return Ok(Opened::Once(errors)),
    };
    let source = channel::Source {
        shared: shared.clone(),
        identity,
        request,
        headers: http.headers.clone(),
        remote: http.remote,
    };
    Ok(Opened::Stream(engine.subscriptions.join(source, live)))
}

/// The `exp` claim of a verified token, as an instant from now.
pub fn expiry(identity: &Identity) -> Option<tokio::time::Instant> {
    let exp = identity.claims.get("exp")?.as_f64()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    let left = Duration::try_from_secs_f64((exp - now).max(0.0)).ok()?;
    Some(tokio::time::Instant::now() + left)
}

/// Waits until `at`, or forever when there is no deadline.
pub(crate) async fn until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The errors that end subscriptions whose token expired.
pub fn expired() -> Frame {
    Frame::error("the access token has expired", "TOKEN_EXPIRED")
}

/// A request error as the JSON array of its errors.
pub fn request_errors(error: &RequestError) -> Bytes {
    let errors: Vec<Value> = error.errors().iter().map(Value::from_serialize).collect();
    Bytes::from(serde_json::to_vec(&errors).unwrap_or_else(|_| b"[]".to_vec()))
}
