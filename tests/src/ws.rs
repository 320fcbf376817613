//! A GraphQL over WebSocket client (graphql-transport-ws) for the tests, and the probe that
//! tells when a service has taken a subscription in.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::TestPlatform;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The protocol the services and the router speak by default.
pub const TRANSPORT_WS: &str = "graphql-transport-ws";

/// How long a test waits for any one message.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// One graphql-transport-ws connection to a service.
pub struct WsClient {
    socket: Socket,
    /// Messages read while waiting for another operation's.
    held: VecDeque<Value>,
}

impl WsClient {
    /// Opens a connection to `service`'s `/graphql`, without `connection_init` yet.
    pub async fn connect(p: &TestPlatform, service: &str) -> Self {
        Self::connect_as(p, service, TRANSPORT_WS).await
    }

    /// Opens a connection speaking `protocol` (`graphql-transport-ws` or the legacy
    /// `graphql-ws`), without `connection_init` yet.
    pub async fn connect_as(p: &TestPlatform, service: &str, protocol: &str) -> Self {
        let mut request = format!("ws://{}/graphql", p.addr(service))
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket");
        Self {
            socket,
            held: VecDeque::new(),
        }
    }

    /// Opens a connection to `service` and initialises it with `token`, as the router does
    /// (`{"Authorization": "Bearer …"}`); returns once the service acknowledged it.
    pub async fn open(p: &TestPlatform, service: &str, token: Option<&str>) -> Self {
        Self::open_as(p, service, TRANSPORT_WS, token).await
    }

    /// [`WsClient::open`] speaking `protocol`.
    pub async fn open_as(
        p: &TestPlatform,
        service: &str,
        protocol: &str,
        token: Option<&str>,
    ) -> Self {
        let mut client = Self::connect_as(p, service, protocol).await;
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        client
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let ack = client.receive().await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        client
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// Starts operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "id": id, "type": "subscribe",
            "payload": { "query": query, "variables": variables } }))
            .await;
    }

    /// The next protocol message, or the close frame's code.
    pub async fn receive(&mut self) -> Result<Value, u16> {
        if let Some(message) = self.held.pop_front() {
            return Ok(message);
        }
        self.read().await
    }

    async fn read(&mut self) -> Result<Value, u16> {
        loop {
            let frame = tokio::time::timeout(ANSWER_TIMEOUT, self.socket.next())
                .await
                .expect("an answer in time");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Ok(serde_json::from_str(&text).expect("JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame.map_or(1005, |f| u16::from(f.code)));
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(1006),
            }
        }
    }

    /// The next message of operation `id` (`next`, `error` or `complete`); other operations'
    /// messages are kept for later, in order.
    pub async fn next_of(&mut self, id: &str) -> Value {
        if let Some(at) = self.held.iter().position(|m| m["id"] == id) {
            return self.held.remove(at).expect("held message");
        }
        loop {
            let message = self.read().await.expect("the connection stays open");
            if message["id"] == id {
                return message;
            }
            self.held.push_back(message);
        }
    }

    /// The payload of the next `next` message of operation `id`.
    pub async fn payload_of(&mut self, id: &str) -> Value {
        let message = self.next_of(id).await;
        assert_eq!(message["type"], "next", "{message}");
        message["payload"].clone()
    }
}

impl TestPlatform {
    /// The live subscriptions `service` holds open, from its `/metrics`.
    pub async fn live_subscribers(&self, service: &str) -> u64 {
        let series = format!("tessera_live_subscribers{{service=\"{service}\"}}");
        self.metric(service, &series).await.unwrap_or(0)
    }

    /// Waits until `service` holds `count` live subscriptions: after that, an event it
    /// receives reaches each of them.
    pub async fn wait_for_subscribers(&self, service: &str, count: u64) {
        let reached = crate::eventually(ANSWER_TIMEOUT, || async {
            (self.live_subscribers(service).await == count).then_some(())
        })
        .await;
        assert!(
            reached.is_some(),
            "{service} did not reach {count} live subscriptions"
        );
    }
}
