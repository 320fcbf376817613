//! GraphQL over WebSocket (graphql-transport-ws) at a subgraph: the token travels in
//! `connection_init` and is verified like a header token.

use serde_json::json;
use tessera_tests::{TestPlatform, WsClient};

#[tokio::test]
async fn runs_operations_for_the_caller_named_in_connection_init() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p
        .sign_up("rhea@example.com", "correct horse battery", "Rhea")
        .await;
    p.wait_for_user(&s).await;

    let mut socket = WsClient::open(&p, "identity", Some(&s.access)).await;
    socket
        .subscribe("1", "{ me { id displayName } }", json!({}))
        .await;
    let next = socket.receive().await.expect("next");
    assert_eq!(next["type"], "next");
    assert_eq!(next["payload"]["data"]["me"]["id"], s.user_id.as_str());
    assert_eq!(
        socket.receive().await.expect("complete")["type"],
        "complete"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn refuses_a_connection_whose_token_does_not_verify() {
    let p = TestPlatform::start().await.expect("platform");
    let mut socket = WsClient::connect(&p, "identity").await;
    socket
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not.a.token" } }))
        .await;
    assert_eq!(
        socket.receive().await,
        Err(4403),
        "graphql-transport-ws: 4403 Forbidden"
    );
    p.shutdown().await;
}
