//! Live subscriptions end to end, on a real Kafka-protocol broker: a client subscribes through
//! the router over each of its four transports (graphql-transport-ws, legacy graphql-ws, SSE,
//! multipart HTTP); a post published through the router reaches every one of them, completed
//! with fields from identity and authz resolved per event.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tessera_tests::platform::Session;
use tessera_tests::{Broker, TestPlatform, WsClient};

const PASSWORD: &str = "correct horse battery";
const SUBSCRIPTION: &str = "subscription($author: ID) { postPublished(authorId: $author) { id title author { displayName roles { name } } } }";

/// A WebSocket to the router speaking `protocol`, initialised with `token`, with operation `s`
/// subscribed (`start` in the legacy protocol).
async fn ws(p: &TestPlatform, protocol: &str, token: &str, variables: &Value) -> WsClient {
    let mut client = WsClient::open_as(p, "router", protocol, Some(token)).await;
    let start = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    client
        .send(json!({ "id": "s", "type": start, "payload": { "query": SUBSCRIPTION, "variables": variables } }))
        .await;
    client
}

async fn streamed(
    p: &TestPlatform,
    accept: &str,
    token: &str,
    variables: &Value,
) -> reqwest::Response {
    let response = reqwest::Client::new()
        .post(p.url("router", "/graphql"))
        .header("accept", accept)
        .bearer_auth(token)
        .json(&json!({ "query": SUBSCRIPTION, "variables": variables }))
        .send()
        .await
        .expect("response");
    assert_eq!(response.status(), 200);
    response
}

/// Reads `response` until its body holds a line starting with `marker` (`skip` bytes of which
/// do not belong to the JSON that follows); returns that JSON.
async fn streamed_json(
    response: &mut reqwest::Response,
    buffer: &mut String,
    marker: &str,
    skip: usize,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(at) = buffer.find(marker) {
            let rest = &buffer[at + skip..];
            if let Some(end) = rest.find(['\n', '\r']) {
                let event: Value = serde_json::from_str(&rest[..end]).expect("JSON event");
                return event;
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no event in time: {buffer:?}"))
            .expect("body")
            .unwrap_or_else(|| panic!("the stream ended: {buffer:?}"));
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn publish(p: &TestPlatform, who: &Session, title: &str) -> String {
    let created = p
        .gql(
            "router",
            "mutation($i: CreatePostInput!) { createPost(input: $i) { id } }",
            json!({ "i": { "title": title, "body": "Live.", "tags": [] } }),
            Some(&who.access),
        )
        .await
        .ok();
    let id = created
        .data("createPost.id")
        .as_str()
        .expect("id")
        .to_owned();
    p.gql(
        "router",
        "mutation($id: ID!) { publishPost(id: $id) { id } }",
        json!({ "id": id }),
        Some(&who.access),
    )
    .await
    .ok();
    id
}

fn assert_post(post: &Value, ids: &[String], transport: &str) {
    assert!(
        post["id"]
            .as_str()
            .is_some_and(|id| ids.iter().any(|i| i == id)),
        "{transport}: {post}"
    );
    assert!(
        post["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Live ")),
        "{transport}: {post}"
    );
    assert_eq!(
        post["author"]["displayName"], "Ada",
        "{transport}: identity's field"
    );
    assert_eq!(
        post["author"]["roles"],
        json!([{ "name": "admin" }]),
        "{transport}: authz's field"
    );
}

#[tokio::test]
async fn a_published_post_reaches_subscribers_on_every_transport_with_federated_fields() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::builder()
        .kafka(broker.bootstrap())
        .admin("ada@example.com")
        .start()
        .await
        .expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    // Authz makes Ada an administrator when it sees her registration.
    let roles = "query($id: ID!) { user(id: $id) { roles { name } } }";
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = p
            .gql(
                "router",
                roles,
                json!({ "id": ada.user_id }),
                Some(&ada.access),
            )
            .await;
        if r.body["data"]["user"]["roles"] == json!([{ "name": "admin" }]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "authz never granted the admin role: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let variables = json!({ "author": ada.user_id });

    let mut modern = ws(&p, "graphql-transport-ws", &ada.access, &variables).await;
    let mut legacy = ws(&p, "graphql-ws", &ada.access, &variables).await;
    let mut sse = streamed(&p, "text/event-stream", &ada.access, &variables).await;
    let mut multipart = streamed(
        &p,
        "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
        &ada.access,
        &variables,
    )
    .await;

    // The subscriptions reach the blog subgraph asynchronously: publish until every transport
    // has had a post.
    let published = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let publisher = {
        let (p_router, token) = (p.url("router", "/graphql"), ada.clone());
        let published = published.clone();
        let http = reqwest::Client::new();
        tokio::spawn(async move {
            for i in 0.. {
                let call = |query: &'static str, variables: Value| {
                    http.post(&p_router)
                        .bearer_auth(&token.access)
                        .json(&json!({ "query": query, "variables": variables }))
                        .send()
                };
                let created: Value = call(
                    "mutation($i: CreatePostInput!) { createPost(input: $i) { id } }",
                    json!({ "i": { "title": format!("Live {i}"), "body": "Live.", "tags": [] } }),
                )
                .await
                .expect("createPost")
                .json()
                .await
                .expect("JSON");
                let id = created["data"]["createPost"]["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                published.lock().expect("lock").push(id.clone());
                call(
                    "mutation($id: ID!) { publishPost(id: $id) { id } }",
                    json!({ "id": id }),
                )
                .await
                .expect("publishPost");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        })
    };

    let next = modern.next_of("s").await;
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("next"), Some("s")),
        "{next}"
    );
    assert!(next["payload"].get("errors").is_none(), "{next}");
    let modern_post = next["payload"]["data"]["postPublished"].clone();
    let data = legacy.next_of("s").await;
    assert_eq!(data["type"], "data", "{data}");
    let legacy_post = data["payload"]["data"]["postPublished"].clone();
    let mut buffer = String::new();
    let marker = "event: next\ndata: ";
    let event = streamed_json(&mut sse, &mut buffer, marker, marker.len()).await;
    let sse_post = event["data"]["postPublished"].clone();
    let mut buffer = String::new();
    let part = streamed_json(&mut multipart, &mut buffer, "{\"payload\":", 0).await;
    let multipart_post = part["payload"]["data"]["postPublished"].clone();
    publisher.abort();

    let ids = published.lock().expect("lock").clone();
    assert_post(&modern_post, &ids, "graphql-transport-ws");
    assert_post(&legacy_post, &ids, "graphql-ws");
    assert_post(&sse_post, &ids, "SSE");
    assert_post(&multipart_post, &ids, "multipart");
    p.shutdown().await;
}

#[tokio::test]
async fn an_author_filter_keeps_other_authors_posts_out() {
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let mut socket = ws(
        &p,
        "graphql-transport-ws",
        &bob.access,
        &json!({ "author": bob.user_id }),
    )
    .await;
    // Ada's posts never arrive; Bob's do, once his subscription is live.
    let mut ada_posts = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let post = loop {
        ada_posts.push(publish(&p, &ada, "Live from Ada").await);
        publish(&p, &bob, "Live from Bob").await;
        if let Ok(message) =
            tokio::time::timeout(Duration::from_millis(700), socket.next_of("s")).await
        {
            break message["payload"]["data"]["postPublished"].clone();
        }
        assert!(Instant::now() < deadline, "no event for Bob");
    };
    assert_eq!(post["title"], "Live from Bob", "{post}");
    assert_eq!(post["author"]["displayName"], "Bob");
    assert!(!ada_posts.iter().any(|id| post["id"] == json!(id)));
    p.shutdown().await;
}

#[tokio::test]
async fn the_routers_check_of_the_token_ends_the_subscription_when_it_expires() {
    let p = TestPlatform::builder()
        .access_token_ttl(3)
        .start()
        .await
        .expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let mut socket = ws(&p, "graphql-transport-ws", &ada.access, &json!({})).await;
    let started = Instant::now();
    let error = socket.next_of("s").await;
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(error["payload"][0]["extensions"]["code"], "TOKEN_EXPIRED");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(socket.receive().await, Err(4403), "the connection closes");
    p.shutdown().await;
}
