//! Subscriptions over plain HTTP responses that stay open:
//!
//! - GraphQL over Server-Sent Events, distinct connections mode (`Accept: text/event-stream`):
//!   `next` events carrying execution results, then a `complete` event; comments keep the
//!   connection alive.
//! - Multipart HTTP (`Accept: multipart/mixed;subscriptionSpec=1.0`): one JSON part per event,
//!   `{"payload":…}`, heartbeat parts `{}`, and a fatal error as `{"payload":null,"errors":…}`.
//!
//! Every multipart part is written together with the delimiter that closes it
//! (`\r\n--graphql`). Readers (Apollo Client's HTTP link, meros, graphql-js style parsers) hand
//! a part over only once they see the delimiter after it; a delimiter written at the start of
//! the *next* part would hold each event back until another event or heartbeat came. What
//! follows a delimiter tells whether a part comes next (`\r\n` and its headers) or the body
//! ends (`--`), so the stream opens with a bare delimiter and ends with `--\r\n`.
//!
//! A request refused before the stream starts gets an ordinary JSON error response with the
//! error's HTTP status, except that over SSE the errors of a well-formed request (parsing,
//! validation, variables, limits) come on the accepted stream, as GraphQL over SSE asks: a
//! `next` event with the errors, then `complete`.

use std::net::IpAddr;
use std::time::Duration;

use axum::response::Response;
use bytes::{BufMut as _, Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use super::{Frame, Opened, expired, expiry, open};
use crate::pipeline::request::{MediaType, RequestError};
use crate::pipeline::{self, HttpRequest, authenticate};
use crate::server::SharedEngine;

/// The streaming response formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    Sse,
    Multipart,
}

impl Streaming {
    /// The streaming format `Accept` prefers, if any (weights first, then the client's order:
    /// one that weighs or lists a JSON type first gets a single response instead).
    pub fn accepted(headers: &HeaderMap) -> Option<Streaming> {
        match crate::pipeline::request::preference(headers) {
            crate::pipeline::request::Preference::EventStream => Some(Streaming::Sse),
            crate::pipeline::request::Preference::Multipart => Some(Streaming::Multipart),
            _ => None,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Streaming::Sse => "text/event-stream",
            Streaming::Multipart => "multipart/mixed;boundary=\"graphql\";subscriptionSpec=\"1.0\"",
        }
    }

    fn keepalive(self) -> Bytes {
        match self {
            Streaming::Sse => Bytes::from_static(b":\n\n"),
            Streaming::Multipart => Bytes::from_static(PART_HEARTBEAT),
        }
    }

    /// The bytes for `frame`; a terminal frame ends the body.
    fn encode(self, frame: &Frame) -> Bytes {
        match self {
            Streaming::Sse => sse_event(frame, None),
            Streaming::Multipart => multipart_part(frame),
        }
    }

    /// The first bytes of the body: a multipart body opens with its first delimiter and a
    /// heartbeat part, so clients see at once that the stream has begun.
    fn opening(self) -> Option<Bytes> {
        match self {
            Streaming::Sse => None,
            Streaming::Multipart => Some(Bytes::from_static(OPENING)),
        }
    }
}

/// The multipart part for `frame`, closed by its delimiter; a terminal frame closes the body.
fn multipart_part(frame: &Frame) -> Bytes {
    let mut out = BytesMut::new();
    match frame {
        Frame::Next(payload) => {
            out.put_slice(PART_HEADERS);
            out.put_slice(b"{\"payload\":");
            out.put_slice(payload);
            out.put_slice(b"}");
            out.put_slice(DELIMITER);
        }
        Frame::Error(errors) => {
            out.put_slice(PART_HEADERS);
            out.put_slice(b"{\"payload\":null,\"errors\":");
            out.put_slice(errors);
            out.put_slice(b"}");
            out.put_slice(DELIMITER);
            out.put_slice(END);
        }
        Frame::Complete => out.put_slice(END),
    }
    out.freeze()
}

/// The SSE events for `frame`: `next` with the execution result, `complete` after a terminal
/// frame (`next` with the errors first when it is an error). With an operation `id` (single
/// connection mode) each event's data names its operation: `{"id":…,"payload":…}` and
/// `{"id":…}`.
pub(crate) fn sse_event(frame: &Frame, id: Option<&str>) -> Bytes {
    let id = id.map(|id| serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into()));
    let mut out = BytesMut::new();
    let next = |out: &mut BytesMut, errors: bool, payload: &[u8]| {
        out.put_slice(b"event: next\ndata: ");
        if let Some(id) = &id {
            out.put_slice(b"{\"id\":");
            out.put_slice(id.as_bytes());
            out.put_slice(b",\"payload\":");
        }
        if errors {
            out.put_slice(b"{\"errors\":");
        }
        out.put_slice(payload);
        if errors {
            out.put_slice(b"}");
        }
        if id.is_some() {
            out.put_slice(b"}");
        }
        out.put_slice(b"\n\n");
    };
    match frame {
        Frame::Next(payload) => next(&mut out, false, payload),
        Frame::Error(errors) => next(&mut out, true, errors),
        Frame::Complete => {}
    }
    if frame.is_terminal() {
        match &id {
            Some(id) => {
                out.put_slice(b"event: complete\ndata: {\"id\":");
                out.put_slice(id.as_bytes());
                out.put_slice(b"}\n\n");
            }
            None => out.put_slice(b"event: complete\ndata:\n\n"),
        }
    }
    out.freeze()
}

/// The headers that open every multipart part (after the delimiter before it).
const PART_HEADERS: &[u8] = b"\r\nContent-Type: application/json\r\n\r\n";
/// Closes the part before it; `\r\n` (the next part) or `--` (the end) follows.
const DELIMITER: &[u8] = b"\r\n--graphql";
const PART_HEARTBEAT: &[u8] = b"\r\nContent-Type: application/json\r\n\r\n{}\r\n--graphql";
const OPENING: &[u8] = b"\r\n--graphql\r\nContent-Type: application/json\r\n\r\n{}\r\n--graphql";
/// Turns the last delimiter into the close delimiter.
const END: &[u8] = b"--\r\n";

/// Answers a streaming request: authenticate, read, open, then stream until the subscription
/// ends, the token expires or the client goes away.
pub async fn respond(
    shared: &SharedEngine,
    streaming: Streaming,
    method: &Method,
    headers: &HeaderMap,
    query_string: Option<&str>,
    body: &[u8],
    remote: Option<IpAddr>,
) -> Response {
    let engine = shared.load_full();
    let http = HttpRequest {
        method,
        headers,
        query_string,
        body,
        remote,
    };
    let mut out_headers = HeaderMap::new();
    let opened = async {
        let identity = authenticate::authenticate(&engine, headers).await?;
        let request = pipeline::read_one(&engine, &http)?;
        let expires = identity.as_ref().and_then(expiry);
        let opened = open(shared, identity, request, &http, &mut out_headers).await?;
        Ok::<_, RequestError>((opened, expires))
    }
    .await;
    let (opened, expires) = match opened {
        Ok((opened, expires)) => (Ok(opened), expires),
        // GraphQL over SSE reports the errors of a well-formed request (parsing, validation,
        // variables, limits: those GraphQL over HTTP answers with 200 as `application/json`)
        // on the accepted stream: clients such as graphql-sse take any other status as a
        // network failure and retry.
        Err(error)
            if streaming == Streaming::Sse && error.status(MediaType::Json) == StatusCode::OK =>
        {
            (Err(super::request_errors(&error)), None)
        }
        Err(error) => {
            let mut response = pipeline::encode_error(&error, MediaType::GraphQLResponse);
            response.headers.extend(out_headers);
            return crate::server::encode(response);
        }
    };
    let keepalive = Duration::from_millis(engine.config.subscriptions.keepalive_ms);
    let frames: std::pin::Pin<Box<dyn Stream<Item = Frame> + Send>> = match opened {
        Ok(Opened::Once(response)) => Box::pin(futures::stream::iter([
            Frame::Next(response),
            Frame::Complete,
        ])),
        Ok(Opened::Stream(subscription)) => Box::pin(subscription.into_stream()),
        Err(errors) => Box::pin(futures::stream::iter([Frame::Error(errors)])),
    };
    let mut response = Response::new(axum::body::Body::from_stream(body_stream(
        streaming, frames, keepalive, expires,
    )));
    let out = response.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(streaming.content_type()),
    );
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Proxies must not buffer the stream.
    out.insert("x-accel-buffering", HeaderValue::from_static("no"));
    out.extend(out_headers);
    response
}

/// The response body: each frame encoded, keep-alives while idle, and the end of the stream at
/// the token's expiry.
fn body_stream(
    streaming: Streaming,
    frames: std::pin::Pin<Box<dyn Stream<Item = Frame> + Send>>,
    keepalive: Duration,
    expires: Option<tokio::time::Instant>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> + Send {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Body {
        frames,
        ticks,
        done: false,
        first: streaming.opening(),
    };
    futures::stream::unfold(state, move |mut state| async move {
        if let Some(first) = state.first.take() {
            return Some((Ok(first), state));
        }
        if state.done {
            return None;
        }
        let frame = tokio::select! {
            frame = state.frames.next() => frame.unwrap_or(Frame::Complete),
            _ = state.ticks.tick() => return Some((Ok(streaming.keepalive()), state)),
            () = super::until(expires) => expired(),
        };
        state.done = frame.is_terminal();
        Some((Ok(streaming.encode(&frame)), state))
    })
}

struct Body {
    frames: std::pin::Pin<Box<dyn Stream<Item = Frame> + Send>>,
    ticks: tokio::time::Interval,
    done: bool,
    first: Option<Bytes>,
}
