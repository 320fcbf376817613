//! The WebSocket close handshake, on both subprotocols: a client's Close is answered with a
//! Close echoing its code before the connection ends, and the router's own closes are proper
//! Close frames after which the connection ends cleanly, not with a reset.

use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::subscriptions::{SUBSCRIPTION, Ws, setup};

/// What the client reads after the router's Close: the end of the stream, or an error.
async fn end_of(ws: &mut Ws) -> Option<String> {
    match tokio::time::timeout(Duration::from_secs(5), ws.socket.next())
        .await
        .expect("the router closes the connection after the handshake")
    {
        None => None,
        Some(Ok(message)) => Some(format!("a message after the close: {message:?}")),
        Some(Err(error)) => Some(error.to_string()),
    }
}

#[tokio::test]
async fn a_client_close_is_answered_with_its_code_on_both_subprotocols() {
    let s = setup("").await;
    for (protocol, subscribe) in [
        ("graphql-transport-ws", "subscribe"),
        ("graphql-ws", "start"),
    ] {
        let mut ws = Ws::connect(&s.router, protocol).await;
        ws.init(json!({})).await;
        ws.send(json!({ "id": "1", "type": subscribe, "payload": { "query": SUBSCRIPTION } }))
            .await;
        ws.socket
            .close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "bye".into(),
            }))
            .await
            .expect("close");
        assert_eq!(ws.receive().await, Err(1000), "{protocol}");
        assert_eq!(end_of(&mut ws).await, None, "{protocol}");
    }
}

#[tokio::test]
async fn the_routers_own_closes_are_close_frames_and_the_connection_ends_cleanly() {
    let s = setup("").await;
    let long_id = "x".repeat(500);
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        // A protocol violation, with more messages behind it that the router never reads.
        let mut garbage = Ws::connect(&s.router, protocol).await;
        garbage.init(json!({})).await;
        let mut messages = vec![Message::text("not json")];
        // Far more than the router reads at once: closing with them unread would reset the
        // connection.
        let padding = "p".repeat(100);
        messages.extend(
            (0..2000)
                .map(|i| Message::text(format!(r#"{{"type":"ping","n":{i},"pad":"{padding}"}}"#))),
        );
        for message in messages {
            garbage.socket.feed(message).await.expect("feed");
        }
        garbage.socket.flush().await.expect("flush");
        assert_eq!(garbage.receive().await, Err(4400), "{protocol}");
        assert_eq!(end_of(&mut garbage).await, None, "{protocol}");

        // A close whose reason quotes a long operation id still fits a Close frame.
        let subscribe = if protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        let mut duplicate = Ws::connect(&s.router, protocol).await;
        duplicate.init(json!({})).await;
        for _ in 0..2 {
            duplicate
                .send(json!({ "id": long_id, "type": subscribe, "payload": { "query": SUBSCRIPTION } }))
                .await;
        }
        assert_eq!(duplicate.receive().await, Err(4409), "{protocol}");
        assert_eq!(end_of(&mut duplicate).await, None, "{protocol}");
    }

    // A subscribe before connection_init.
    let mut early = Ws::connect(&s.router, "graphql-transport-ws").await;
    early
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    assert_eq!(early.receive().await, Err(4401));
    assert_eq!(end_of(&mut early).await, None);

    // The legacy protocol's connection_terminate.
    let mut legacy = Ws::connect(&s.router, "graphql-ws").await;
    legacy.init(json!({})).await;
    legacy.send(json!({ "type": "connection_terminate" })).await;
    assert_eq!(legacy.receive().await, Err(1000));
    assert_eq!(end_of(&mut legacy).await, None);
}
