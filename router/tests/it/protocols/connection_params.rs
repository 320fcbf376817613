//! Tokens in `connection_init` in the shapes common clients send them, on both
//! subprotocols: each authenticates the connection, and one that is present but unusable is
//! refused rather than ignored.

use serde_json::{Value, json};

use crate::edge::{Key, claims, jwks_file, jwt_config};
use crate::subscriptions::{SUBSCRIPTION, Ws, keep_publishing, setup};

#[tokio::test]
async fn every_common_token_shape_authenticates_the_connection() {
    let key = Key::new("k1", 5);
    let jwks = jwks_file(&[&key]);
    // Tokens are required: a connection whose token went unread would be refused.
    let s = setup(&jwt_config(jwks.path(), "    required: true\n")).await;
    let token = key.sign(&claims("ann", ""));
    let bearer = format!("Bearer {token}");
    let shapes = [
        json!({ "Authorization": bearer }),
        json!({ "authorization": bearer }),
        json!({ "headers": { "Authorization": bearer } }),
        json!({ "authToken": token }),
        json!({ "token": token }),
        json!({ "accessToken": token }),
        json!({ "authToken": bearer }),
    ];
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        for shape in &shapes {
            let mut ws = Ws::connect(&s.router, protocol).await;
            ws.send(json!({ "type": "connection_init", "payload": shape }))
                .await;
            let ack = ws.receive().await;
            assert_eq!(
                ack.as_ref().map(|m| m["type"].clone()),
                Ok(Value::from("connection_ack")),
                "{protocol} {shape}"
            );
        }
        let mut anonymous = Ws::connect(&s.router, protocol).await;
        anonymous
            .send(json!({ "type": "connection_init", "payload": {} }))
            .await;
        let refused = loop {
            match anonymous.receive().await {
                Ok(m) if m["type"] == "connection_error" => continue,
                other => break other,
            }
        };
        assert_eq!(refused, Err(4403), "{protocol}");
    }

    // The subgraph gets the token of a bare-token connection as a bearer header.
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({ "token": token })).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let publisher = keep_publishing(&s.posts, "live");
    assert_eq!(ws.receive().await.expect("next")["type"], "next");
    publisher.abort();
    let init = s.posts.inits.lock().expect("lock")[0].clone();
    assert_eq!(init["headers"]["authorization"], bearer);
}

#[tokio::test]
async fn a_token_that_is_not_a_usable_string_is_refused_not_ignored() {
    let key = Key::new("k1", 6);
    let jwks = jwks_file(&[&key]);
    // Tokens are optional: ignoring a broken one would quietly run the connection anonymously.
    let s = setup(&jwt_config(jwks.path(), "")).await;
    for payload in [
        json!({ "authToken": 42 }),
        json!({ "token": { "jwt": "abc" } }),
        json!({ "Authorization": ["Bearer abc"] }),
        json!({ "headers": { "authorization": false } }),
        json!({ "accessToken": "" }),
    ] {
        let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
        ws.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(ws.receive().await, Err(4403), "{payload}");

        let mut legacy = Ws::connect(&s.router, "graphql-ws").await;
        legacy
            .send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let error = legacy.receive().await.expect("connection_error");
        assert_eq!(error["type"], "connection_error", "{payload}");
        assert_eq!(
            error["payload"][0]["extensions"]["code"], "TOKEN_MALFORMED",
            "{payload}"
        );
        assert_eq!(legacy.receive().await, Err(4403), "{payload}");
    }
    // Signed out: a null token is no token.
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({ "authToken": null })).await;
}
