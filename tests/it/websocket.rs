//! GraphQL over WebSocket (graphql-transport-ws) at a subgraph: the token travels in
//! `connection_init` and is verified like a header token.

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tessera_tests::TestPlatform;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(p: &TestPlatform, service: &str) -> Socket {
    let mut request = format!("ws://{}/graphql", p.addr(service))
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next protocol message, or the close frame's code.
async fn receive(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("an answer in time");
        match frame {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("JSON")),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map_or(1005, |f| u16::from(f.code)));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(1006),
        }
    }
}

#[tokio::test]
async fn runs_operations_for_the_caller_named_in_connection_init() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p
        .sign_up("rhea@example.com", "correct horse battery", "Rhea")
        .await;
    p.wait_for_user(&s).await;

    let mut socket = connect(&p, "identity").await;
    send(&mut socket, json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {}", s.access) } })).await;
    assert_eq!(
        receive(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    send(&mut socket, json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ me { id displayName } }" } })).await;
    let next = receive(&mut socket).await.expect("next");
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["me"]["id"], s.user_id.as_str());
    assert_eq!(
        receive(&mut socket).await.expect("complete")["type"],
        "complete"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn refuses_a_connection_whose_token_does_not_verify() {
    let p = TestPlatform::start().await.expect("platform");
    let mut socket = connect(&p, "identity").await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not.a.token" } }),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await,
        Err(4403),
        "graphql-transport-ws: 4403 Forbidden"
    );
    p.shutdown().await;
}
