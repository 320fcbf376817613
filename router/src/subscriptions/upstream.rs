//! The subgraph side of a subscription: a graphql-transport-ws connection to the subgraph that
//! owns the subscription field, carrying the forwarded headers (the caller's token among them)
//! in `connection_init`, as subgraphs verify it themselves.

use std::time::Duration;

use apollo_compiler::response::JsonMap;
use futures::{SinkExt as _, StreamExt as _};
use http::HeaderMap;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::json::Value;

/// What the subgraph sent next.
#[derive(Debug)]
pub enum Upstream {
    /// An execution result (`{"data":…,"errors":[…]}`).
    Next(Value),
    /// The subgraph ended the subscription with these errors.
    Errors(Vec<Value>),
    /// The subgraph completed the subscription.
    Complete,
    /// The connection closed or failed without the subscription ending.
    Lost(String),
}

/// One subscription open at a subgraph.
pub struct Connection {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    payload: Option<Value>,
}

const ID: &str = "1";

impl Connection {
    /// Connects to `url`, initialises with `headers`, and subscribes to `query`. Fails with a
    /// reason fit for the log when the subgraph cannot be reached or refuses the connection.
    pub async fn open(
        url: &str,
        headers: &HeaderMap,
        query: &str,
        variables: &JsonMap,
        max_message: usize,
        timeout: Duration,
    ) -> Result<Self, String> {
        tokio::time::timeout(
            timeout,
            Self::open_inner(url, headers, query, variables, max_message),
        )
        .await
        .unwrap_or_else(|_| Err("the subgraph did not accept the subscription in time".into()))
    }

    async fn open_inner(
        url: &str,
        headers: &HeaderMap,
        query: &str,
        variables: &JsonMap,
        max_message: usize,
    ) -> Result<Self, String> {
        let mut request = url
            .into_client_request()
            .map_err(|e| format!("invalid subscription URL: {e}"))?;
        request.headers_mut().insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            http::HeaderValue::from_static("graphql-transport-ws"),
        );
        // The subgraph's messages are read under the same limit as its HTTP responses, rather
        // than the WebSocket library's 64 MiB.
        let limits = WebSocketConfig::default()
            .max_message_size(Some(max_message))
            .max_frame_size(Some(max_message));
        let (mut socket, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(limits), true)
                .await
                .map_err(|e| format!("cannot connect: {e}"))?;
        let mut forwarded = serde_json::Map::new();
        for (name, value) in headers {
            if let Ok(value) = value.to_str() {
                forwarded.insert(name.as_str().to_owned(), value.into());
            }
        }
        let init = serde_json::json!({
            "type": "connection_init",
            "payload": { "headers": forwarded },
        });
        socket
            .send(Message::text(init.to_string()))
            .await
            .map_err(|e| format!("cannot initialise: {e}"))?;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Incoming = sonic_rs::from_str(&text)
                        .map_err(|e| format!("the subgraph sent an invalid message: {e}"))?;
                    match message.kind.as_str() {
                        "connection_ack" => break,
                        "ping" => {
                            let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                        }
                        other => return Err(format!("expected connection_ack, got {other}")),
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(match frame {
                        Some(frame) => format!("refused: {} {}", frame.code, frame.reason),
                        None => "the subgraph closed the connection".into(),
                    });
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the subgraph closed the connection".into()),
            }
        }
        let subscribe = serde_json::json!({
            "id": ID,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables },
        });
        socket
            .send(Message::text(subscribe.to_string()))
            .await
            .map_err(|e| format!("cannot subscribe: {e}"))?;
        Ok(Self { socket })
    }

    /// The next event, answering the subgraph's pings on the way.
    pub async fn next(&mut self) -> Upstream {
        loop {
            let text = match self.socket.next().await {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => {
                    return Upstream::Lost("the subgraph sent a binary message".into());
                }
                Some(Ok(Message::Close(frame))) => {
                    return Upstream::Lost(match frame {
                        Some(frame) => format!("closed: {} {}", frame.code, frame.reason),
                        None => "closed".into(),
                    });
                }
                Some(Err(e)) => return Upstream::Lost(e.to_string()),
                None => return Upstream::Lost("closed".into()),
            };
            let Ok(message) = sonic_rs::from_str::<Incoming>(&text) else {
                return Upstream::Lost("the subgraph sent an invalid message".into());
            };
            match message.kind.as_str() {
                "next" => return Upstream::Next(message.payload.unwrap_or(Value::Null)),
                "error" => {
                    return Upstream::Errors(match message.payload {
                        Some(Value::Array(errors)) => errors,
                        Some(other) => vec![other],
                        None => Vec::new(),
                    });
                }
                "complete" => return Upstream::Complete,
                "ping" => {
                    let _ = self.socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                }
                _ => {}
            }
        }
    }

    /// Ends the subscription and closes the connection.
    pub async fn close(mut self) {
        let complete = format!(r#"{{"id":"{ID}","type":"complete"}}"#);
        let _ = self.socket.send(Message::text(complete)).await;
        let _ = self.socket.close(None).await;
    }
}
