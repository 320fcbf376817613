//! Subscriptions through the router against scripted subgraphs: a `posts` subgraph that
//! streams `postAdded` over graphql-transport-ws (events pushed by the test), and a `users`
//! subgraph that resolves `User.name` through `_entities`. Every client transport receives each
//! event completed with the other subgraph's field; identical subscriptions share one subgraph
//! subscription; a slow subscriber is dropped alone; a lost subgraph connection is resubscribed
//! or ends the stream, as configured; reloads keep or complete subscriptions; token expiry,
//! rate limits and keep-alives apply.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message as ServerMessage, WebSocket, WebSocketUpgrade};
use axum::routing::{get, post};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;
use tessera_router::pipeline::Engine;
use tessera_router::server::{RouterServer, swap};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::edge::{Key, claims, jwks_file, jwt_config, now};

const POSTS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { post: Post }
type Subscription { postAdded(channel: String): Post! }
type Post @key(fields: "id") { id: ID! title: String! author: User! }
type User @key(fields: "id", resolvable: false) { id: ID! }"#;

const USERS: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String! }
type Post @key(fields: "id", resolvable: false) { id: ID! likes: Int }"#;

pub(crate) const SUBSCRIPTION: &str = "subscription { postAdded { title author { name } } }";

/// The scripted `posts` subgraph.
#[derive(Clone)]
pub(crate) struct Posts {
    events: broadcast::Sender<Value>,
    /// Drops every open connection without a close frame, as a restart would.
    pub(crate) kick: broadcast::Sender<()>,
    subscribes: Arc<AtomicUsize>,
    pub(crate) inits: Arc<Mutex<Vec<Value>>>,
    queries: Arc<Mutex<Vec<String>>>,
}

impl Posts {
    pub(crate) fn publish(&self, id: &str, title: &str) {
        let _ = self.events.send(json!({
            "__typename": "Post", "id": id, "title": title,
            "author": { "__typename": "User", "id": format!("u-{id}") },
        }));
    }

    pub(crate) fn subscribes(&self) -> usize {
        self.subscribes.load(Ordering::SeqCst)
    }
}

async fn posts_session(mut socket: WebSocket, posts: Posts) {
    let mut events = posts.events.subscribe();
    let mut kick = posts.kick.subscribe();
    let mut id: Option<String> = None;
    loop {
        tokio::select! {
            message = socket.recv() => {
                let Some(Ok(ServerMessage::Text(text))) = message else { return };
                let message: Value = serde_json::from_str(&text).expect("JSON");
                match message["type"].as_str() {
                    Some("connection_init") => {
                        posts.inits.lock().expect("lock").push(message["payload"].clone());
                        let ack = ServerMessage::text(r#"{"type":"connection_ack"}"#);
                        if socket.send(ack).await.is_err() { return }
                    }
                    Some("subscribe") => {
                        posts.queries.lock().expect("lock")
                            .push(message["payload"]["query"].as_str().unwrap_or("").to_owned());
                        id = message["id"].as_str().map(str::to_owned);
                        // Subscribed from here on: count only once the receiver is in place.
                        events = events.resubscribe();
                        posts.subscribes.fetch_add(1, Ordering::SeqCst);
                    }
                    Some("complete") => return,
                    _ => {}
                }
            }
            event = events.recv() => {
                let (Ok(event), Some(id)) = (event, &id) else { continue };
                let next = json!({ "id": id, "type": "next", "payload": { "data": { "postAdded": event } } });
                if socket.send(ServerMessage::text(next.to_string())).await.is_err() { return }
            }
            _ = kick.recv() => return,
        }
    }
}

async fn posts_ws(
    State(posts): State<Posts>,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    upgrade
        .protocols(["graphql-transport-ws"])
        .on_upgrade(move |socket| posts_session(socket, posts))
}

async fn users_entities(
    State(count): State<Arc<AtomicUsize>>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    count.fetch_add(1, Ordering::SeqCst);
    let entities: Vec<Value> = body["variables"]["representations"]
        .as_array()
        .map(|reps| {
            reps.iter()
                .map(|r| json!({ "__typename": "User", "id": r["id"], "name": format!("Name of {}", r["id"].as_str().unwrap_or("")) }))
                .collect()
        })
        .unwrap_or_default();
    axum::Json(json!({ "data": { "_entities": entities } }))
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/graphql")
}

pub(crate) struct Setup {
    pub(crate) router: RouterServer,
    pub(crate) posts: Posts,
    users: Arc<AtomicUsize>,
    supergraph: String,
}

pub(crate) async fn setup(config: &str) -> Setup {
    let posts = Posts {
        events: broadcast::channel(1024).0,
        kick: broadcast::channel(4).0,
        subscribes: Arc::default(),
        inits: Arc::default(),
        queries: Arc::default(),
    };
    let posts_url = serve(
        Router::new()
            .route("/graphql", get(posts_ws))
            .with_state(posts.clone()),
    )
    .await;
    let users = Arc::new(AtomicUsize::new(0));
    let users_url = serve(
        Router::new()
            .route("/graphql", post(users_entities))
            .with_state(users.clone()),
    )
    .await;
    let supergraph = compose(&[
        SubgraphSdl {
            name: "posts".into(),
            url: posts_url,
            sdl: POSTS.into(),
        },
        SubgraphSdl {
            name: "users".into(),
            url: users_url,
            sdl: USERS.into(),
        },
    ])
    .expect("composes");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = RouterServer::start(
        listener,
        &supergraph,
        GatewayConfig::parse(config).expect("config"),
    )
    .await
    .expect("router");
    Setup {
        router,
        posts,
        users,
        supergraph,
    }
}

/// Polls `check` until it holds, for at most ten seconds.
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket client of the router.
pub(crate) struct Ws {
    pub(crate) socket: Socket,
}

impl Ws {
    pub(crate) async fn connect(router: &RouterServer, protocol: &str) -> Ws {
        let url = router.url().replace("http://", "ws://") + "/graphql";
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket");
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            protocol,
            "the router speaks the offered protocol"
        );
        Ws { socket }
    }

    pub(crate) async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::text(message.to_string()))
            .await
            .expect("send");
    }

    /// The next protocol message other than keep-alives, or the close frame's code.
    pub(crate) async fn receive(&mut self) -> Result<Value, u16> {
        loop {
            let message = self.receive_any().await?;
            if !matches!(message["type"].as_str(), Some("ping" | "pong" | "ka")) {
                return Ok(message);
            }
        }
    }

    pub(crate) async fn receive_any(&mut self) -> Result<Value, u16> {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a message in time");
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

    pub(crate) async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        assert_eq!(self.receive().await.expect("ack")["type"], "connection_ack");
    }
}

/// Reads an SSE or multipart response body chunk by chunk.
pub(crate) struct Streamed {
    pub(crate) response: reqwest::Response,
    pub(crate) buffer: String,
}

impl Streamed {
    pub(crate) async fn open(
        router: &RouterServer,
        accept: &str,
        query: &str,
        headers: &[(&str, &str)],
    ) -> Streamed {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", router.url()))
            .header("accept", accept)
            .json(&json!({ "query": query }));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("response");
        Streamed {
            response,
            buffer: String::new(),
        }
    }

    /// Waits until the body so far contains `needle`.
    pub(crate) async fn until(&mut self, needle: &str) -> &str {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.buffer.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} in time; got {:?}", self.buffer))
                .expect("body");
            match chunk {
                Some(chunk) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                None => panic!("the body ended without {needle:?}: {:?}", self.buffer),
            }
        }
        &self.buffer
    }
}

/// Publishes an event every 50 ms until `done` holds, so that subscribers whose subscription
/// the subgraph has not seen yet still get one.
pub(crate) fn keep_publishing(posts: &Posts, title: &'static str) -> tokio::task::JoinHandle<()> {
    let posts = posts.clone();
    tokio::spawn(async move {
        for i in 0.. {
            posts.publish(&format!("p{i}"), title);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn next_payload(message: &Value) -> &Value {
    &message["payload"]
}

#[tokio::test]
async fn every_transport_receives_events_completed_by_another_subgraph() {
    let s = setup("subscriptions:\n  keepalive_ms: 200\n").await;

    let mut modern = Ws::connect(&s.router, "graphql-transport-ws").await;
    modern.init(json!({})).await;
    modern
        .send(json!({ "id": "a", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let mut legacy = Ws::connect(&s.router, "graphql-ws").await;
    legacy.init(json!({})).await;
    legacy
        .send(json!({ "id": "b", "type": "start", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let mut sse = Streamed::open(&s.router, "text/event-stream", SUBSCRIPTION, &[]).await;
    assert_eq!(sse.response.status(), 200);
    assert_eq!(sse.response.headers()["content-type"], "text/event-stream");
    let mut multipart = Streamed::open(
        &s.router,
        "multipart/mixed;subscriptionSpec=\"1.0\", application/json",
        SUBSCRIPTION,
        &[],
    )
    .await;
    assert_eq!(multipart.response.status(), 200);
    assert!(
        multipart.response.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("multipart/mixed;boundary=\"graphql\""),
    );

    let publisher = keep_publishing(&s.posts, "Hello");
    let expected = |id: &str| json!({ "data": { "postAdded": { "title": "Hello", "author": { "name": format!("Name of u-{id}") } } } });

    let next = modern.receive().await.expect("next");
    assert_eq!(
        (next["type"].as_str(), next["id"].as_str()),
        (Some("next"), Some("a"))
    );
    let id = next_payload(&next)["data"]["postAdded"]["author"]["name"]
        .as_str()
        .expect("a name")
        .trim_start_matches("Name of u-")
        .to_owned();
    assert_eq!(next_payload(&next), &expected(&id), "{next}");

    let data = legacy.receive().await.expect("data");
    assert_eq!(
        (data["type"].as_str(), data["id"].as_str()),
        (Some("data"), Some("b"))
    );
    assert_eq!(data["payload"]["data"]["postAdded"]["title"], "Hello");
    assert!(
        data["payload"]["data"]["postAdded"]["author"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Name of u-p")),
        "{data}"
    );

    let body = sse.until("event: next\ndata: ").await.to_owned();
    let event = body
        .split("event: next\ndata: ")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("an event");
    let event: Value = serde_json::from_str(event).expect("JSON");
    assert_eq!(event["data"]["postAdded"]["title"], "Hello", "{body}");
    assert!(
        event["data"]["postAdded"]["author"]["name"].is_string(),
        "{body}"
    );

    let body = multipart.until("{\"payload\":").await.to_owned();
    let part = body
        .split("\r\n\r\n")
        .find(|p| p.starts_with("{\"payload\":"))
        .and_then(|p| p.split("\r\n").next())
        .expect("a part");
    let part: Value = serde_json::from_str(part).expect("JSON");
    assert_eq!(
        part["payload"]["data"]["postAdded"]["title"], "Hello",
        "{body}"
    );
    assert!(part["payload"]["data"]["postAdded"]["author"]["name"].is_string());
    // The multipart stream opened with a heartbeat part, closed by its delimiter.
    assert!(
        body.starts_with(
            "\r\n--graphql\r\nContent-Type: application/json\r\n\r\n{}\r\n--graphql\r\n"
        ),
        "{body:?}"
    );
    publisher.abort();

    // Four identical anonymous subscriptions: one subgraph subscription, and one `_entities`
    // request per event for all of them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.users.store(0, Ordering::SeqCst);
    s.posts.publish("once", "once");
    for ws in [&mut modern, &mut legacy] {
        while ws.receive().await.expect("event")["payload"]["data"]["postAdded"]["title"] != "once"
        {
        }
    }
    sse.until("Name of u-once").await;
    multipart.until("Name of u-once").await;
    assert_eq!(s.users.load(Ordering::SeqCst), 1);
    assert_eq!(s.posts.subscribes(), 1);
    assert_eq!(s.router.engine().load().subscriptions.open(), 1);
    let init = s.posts.inits.lock().expect("lock")[0].clone();
    assert!(init["headers"].is_object(), "{init}");

    // Keep-alives flow on every transport while idle.
    let ping = loop {
        let m = modern.receive_any().await.expect("message");
        if m["type"] != "next" {
            break m;
        }
    };
    assert_eq!(ping["type"], "ping");
    let ka = loop {
        let m = legacy.receive_any().await.expect("message");
        if m["type"] != "data" {
            break m;
        }
    };
    assert_eq!(ka["type"], "ka");
    sse.until(":\n\n").await;

    // Completing a subscription stops its stream; the legacy `stop` is answered with complete.
    modern.send(json!({ "id": "a", "type": "complete" })).await;
    legacy.send(json!({ "id": "b", "type": "stop" })).await;
    let complete = loop {
        let m = legacy.receive().await.expect("message");
        if m["type"] != "data" {
            break m;
        }
    };
    assert_eq!(complete, json!({ "id": "b", "type": "complete" }));
    drop(sse);
    drop(multipart);
    eventually("the channel closes when its last subscriber leaves", || {
        s.router.engine().load().subscriptions.open() == 0
    })
    .await;
}

#[tokio::test]
async fn queries_and_mutations_run_once_over_a_websocket() {
    let s = setup("").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    ws.send(json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ nope }" } }))
        .await;
    let error = ws.receive().await.expect("error");
    assert_eq!(error["type"], "error");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // The connection stays usable after an operation's error.
    ws.send(json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ __typename }" } }))
        .await;
    let next = ws.receive().await.expect("next");
    assert_eq!(
        next["payload"],
        json!({ "data": { "__typename": "Query" } })
    );
    assert_eq!(
        ws.receive().await.expect("complete"),
        json!({ "id": "q", "type": "complete" })
    );
}

#[tokio::test]
async fn protocol_violations_close_the_connection_with_their_codes() {
    let s = setup("subscriptions:\n  init_timeout_ms: 300\n").await;

    let mut early = Ws::connect(&s.router, "graphql-transport-ws").await;
    early
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    assert_eq!(early.receive().await, Err(4401));

    let mut silent = Ws::connect(&s.router, "graphql-transport-ws").await;
    assert_eq!(silent.receive().await, Err(4408));

    let mut twice = Ws::connect(&s.router, "graphql-transport-ws").await;
    twice.init(json!({})).await;
    twice.send(json!({ "type": "connection_init" })).await;
    assert_eq!(twice.receive().await, Err(4429));

    let mut duplicate = Ws::connect(&s.router, "graphql-transport-ws").await;
    duplicate.init(json!({})).await;
    for _ in 0..2 {
        duplicate
            .send(
                json!({ "id": "same", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
            )
            .await;
    }
    assert_eq!(duplicate.receive().await, Err(4409));

    let mut garbage = Ws::connect(&s.router, "graphql-transport-ws").await;
    garbage
        .socket
        .send(Message::text("not json"))
        .await
        .expect("send");
    assert_eq!(garbage.receive().await, Err(4400));
}

#[tokio::test]
async fn a_slow_subscriber_is_dropped_and_the_others_keep_receiving() {
    let s = setup("subscriptions:\n  buffer: 4\n").await;
    let mut fast = Ws::connect(&s.router, "graphql-transport-ws").await;
    fast.init(json!({})).await;
    let mut slow = Ws::connect(&s.router, "graphql-transport-ws").await;
    slow.init(json!({})).await;
    for ws in [&mut fast, &mut slow] {
        ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
            .await;
    }
    // Both have joined once a marker event reaches both.
    let publisher = keep_publishing(&s.posts, "marker");
    for ws in [&mut fast, &mut slow] {
        let next = ws.receive().await.expect("next");
        assert_eq!(next["payload"]["data"]["postAdded"]["title"], "marker");
    }
    publisher.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // Large events, far more than the socket buffers hold, while `slow` reads nothing.
    let big = "x".repeat(64 * 1024);
    let title: &'static str = Box::leak(big.into_boxed_str());
    let events = 300;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < events {
            let next = fast.receive().await.expect("next");
            if next["payload"]["data"]["postAdded"]["title"] == title {
                got += 1;
            }
        }
        got
    });
    for i in 0..events {
        s.posts.publish(&format!("big{i}"), title);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(30), reader)
            .await
            .expect("the fast subscriber is not held back")
            .expect("reader"),
        events
    );
    // The slow one finds, after what its buffers held, that it was dropped.
    let error = loop {
        let message = slow.receive().await.expect("message");
        if message["type"] != "next" {
            break message;
        }
    };
    assert_eq!(error["type"], "error", "{error}");
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "SUBSCRIBER_TOO_SLOW"
    );
}

#[tokio::test]
async fn a_lost_subgraph_connection_is_resubscribed() {
    let s = setup("subscriptions:\n  resubscribe_backoff_ms: 20\n").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let publisher = keep_publishing(&s.posts, "before");
    assert_eq!(
        ws.receive().await.expect("next")["payload"]["data"]["postAdded"]["title"],
        "before"
    );
    publisher.abort();

    let _ = s.posts.kick.send(());
    eventually("the router subscribes again", || s.posts.subscribes() == 2).await;
    s.posts.publish("after", "after");
    let next = loop {
        let m = ws.receive().await.expect("next");
        if m["payload"]["data"]["postAdded"]["title"] == "after" {
            break m;
        }
    };
    assert_eq!(
        next["payload"]["data"]["postAdded"]["author"]["name"],
        "Name of u-after"
    );
}

#[tokio::test]
async fn a_lost_subgraph_connection_ends_the_stream_when_configured_to() {
    let s = setup("subscriptions:\n  on_subgraph_disconnect: error\n").await;
    let mut sse = Streamed::open(&s.router, "text/event-stream", SUBSCRIPTION, &[]).await;
    let publisher = keep_publishing(&s.posts, "before");
    sse.until("before").await;
    publisher.abort();
    let _ = s.posts.kick.send(());
    let body = sse.until("event: complete").await;
    assert!(
        body.contains("SUBSCRIPTION_SUBGRAPH_DISCONNECTED"),
        "{body}"
    );
}

#[tokio::test]
async fn a_reload_keeps_unaffected_subscriptions_and_completes_affected_ones() {
    let s = setup("").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let publisher = keep_publishing(&s.posts, "first");
    assert_eq!(
        ws.receive().await.expect("next")["payload"]["data"]["postAdded"]["title"],
        "first"
    );
    publisher.abort();

    // A configuration change that does not touch the subscription: it goes on, on the same
    // subgraph subscription.
    let engine = s.router.engine();
    let next = engine
        .load()
        .reload(
            &s.supergraph,
            GatewayConfig::parse("limits:\n  max_depth: 20\n").expect("config"),
        )
        .expect("engine");
    swap(engine, next);
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.posts.publish("kept", "kept");
    let kept = loop {
        let m = ws.receive().await.expect("next");
        if m["payload"]["data"]["postAdded"]["title"] == "kept" {
            break m;
        }
    };
    assert_eq!(kept["type"], "next");
    assert_eq!(s.posts.subscribes(), 1);

    // A supergraph without the field: the subscription completes.
    let without = s.supergraph.replace(
        "postAdded(channel: String): Post! @join__field(graph: POSTS)",
        "postGone: Post @join__field(graph: POSTS)",
    );
    assert_ne!(
        without, s.supergraph,
        "the test edits the field it means to"
    );
    let next = Engine::new(&without, GatewayConfig::default()).expect("engine");
    swap(engine, next);
    let complete = loop {
        let m = ws.receive().await.expect("message");
        if m["type"] != "next" {
            break m;
        }
    };
    assert_eq!(complete, json!({ "id": "1", "type": "complete" }));
}

#[tokio::test]
async fn the_token_is_checked_at_init_and_its_expiry_ends_the_subscription() {
    let key = Key::new("k1", 7);
    let jwks = jwks_file(&[&key]);
    let s = setup(&jwt_config(jwks.path(), "")).await;

    let mut refused = Ws::connect(&s.router, "graphql-transport-ws").await;
    refused
        .send(json!({ "type": "connection_init", "payload": { "Authorization": "Bearer not-a-token" } }))
        .await;
    assert_eq!(refused.receive().await, Err(4403));

    let mut short = claims("ann", "");
    short["exp"] = json!(now() + 2);
    let token = key.sign(&short);
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({ "Authorization": format!("Bearer {token}") }))
        .await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let publisher = keep_publishing(&s.posts, "live");
    assert_eq!(ws.receive().await.expect("next")["type"], "next");
    // The subgraph got the verified token with the connection.
    let init = s.posts.inits.lock().expect("lock")[0].clone();
    assert_eq!(init["headers"]["authorization"], format!("Bearer {token}"));
    let error = loop {
        let m = ws.receive().await.expect("message");
        if m["type"] != "next" {
            break m;
        }
    };
    publisher.abort();
    assert_eq!(error["type"], "error");
    assert_eq!(error["payload"][0]["extensions"]["code"], "TOKEN_EXPIRED");
    assert_eq!(ws.receive().await, Err(4403));
}

#[tokio::test]
async fn rate_limits_apply_to_each_subscribe() {
    let s = setup("rate_limits:\n  rules:\n    - name: everyone\n      key: global\n      limit: 2\n      period_secs: 3600\n").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    for id in ["1", "2", "3"] {
        ws.send(json!({ "id": id, "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
            .await;
    }
    let error = ws.receive().await.expect("error");
    assert_eq!(error["id"], "3");
    assert_eq!(error["payload"][0]["extensions"]["code"], "RATE_LIMITED");

    // Over SSE the refusal is an HTTP 429 before any stream starts.
    let sse = Streamed::open(&s.router, "text/event-stream", SUBSCRIPTION, &[]).await;
    assert_eq!(sse.response.status(), 429);
}

#[tokio::test]
async fn shutting_down_ends_open_streams_instead_of_waiting_for_them() {
    let s = setup("").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }))
        .await;
    let mut sse = Streamed::open(&s.router, "text/event-stream", SUBSCRIPTION, &[]).await;
    let publisher = keep_publishing(&s.posts, "live");
    assert_eq!(ws.receive().await.expect("next")["type"], "next");
    sse.until("event: next").await;
    publisher.abort();

    tokio::time::timeout(Duration::from_secs(10), s.router.shutdown())
        .await
        .expect("the router drains although streams were open");
    sse.until("event: complete").await;
    let end = loop {
        match ws.receive().await {
            Ok(m) if m["type"] == "next" => continue,
            other => break other,
        }
    };
    assert!(
        matches!(&end, Ok(m) if m["type"] == "complete") || end == Err(1001),
        "{end:?}"
    );
}

#[tokio::test]
async fn a_field_no_subgraph_can_reach_is_a_located_error_in_each_event() {
    // `Post.likes` lives only in `users`, which cannot resolve a post by its key: each event
    // has it null with an error at its path, and the rest of the event.
    let s = setup("").await;
    let mut ws = Ws::connect(&s.router, "graphql-transport-ws").await;
    ws.init(json!({})).await;
    let query = "subscription { postAdded { title likes } }";
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": query } }))
        .await;
    let publisher = keep_publishing(&s.posts, "counted");
    let next = ws.receive().await.expect("next");
    publisher.abort();
    let payload = next_payload(&next);
    assert_eq!(
        payload["data"],
        json!({ "postAdded": { "title": "counted", "likes": null } }),
        "{next}"
    );
    assert_eq!(
        payload["errors"][0]["path"],
        json!(["postAdded", "likes"]),
        "{next}"
    );
    assert_eq!(
        payload["errors"][0]["extensions"]["code"], "UNRESOLVABLE_FIELD",
        "{next}"
    );
}
