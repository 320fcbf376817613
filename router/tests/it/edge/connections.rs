//! The listener under slow, silent and greedy clients: thousands of connections that send half
//! a request, a body that never finishes, WebSockets that never initialise, and the limits on
//! connections, heads, frames and subgraph responses. Each attack runs next to a well-behaved
//! client, whose requests must keep being answered at about their usual latency.

use std::time::{Duration, Instant};

use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use super::{post, router};
use tessera_router::server::RouterServer;

const ATTACKERS: usize = 2000;

/// The median time of `n` requests of the well-behaved client, each checked for its answer.
async fn median_latency(client: &reqwest::Client, router: &RouterServer, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = client
            .post(format!("{}/graphql", router.url()))
            .json(&serde_json::json!({ "query": "{ public }" }))
            .send()
            .await
            .expect("the well-behaved client is answered");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(body["data"]["public"], "hello", "{body}");
        times.push(started.elapsed());
    }
    times.sort();
    times[n / 2]
}

/// Whether the well-behaved client's latency under attack is within twice its usual one. A
/// request on loopback takes well under a millisecond, so a millisecond of slack keeps timer
/// and scheduler jitter from deciding.
fn within_twice(usual: Duration, under_attack: Duration) -> bool {
    under_attack <= usual * 2 + Duration::from_millis(1)
}

/// Opens `n` connections that each send `prefix` and then nothing more.
async fn stalled(router: &RouterServer, n: usize, prefix: &[u8]) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let mut stream = TcpStream::connect(router.addr()).await.expect("connect");
        stream.write_all(prefix).await.expect("write");
        streams.push(stream);
    }
    streams
}

/// What each connection reads until the router closes it, or `None` for one still open after
/// `wait`.
async fn read_until_closed(streams: Vec<TcpStream>, wait: Duration) -> Vec<Option<Vec<u8>>> {
    futures::future::join_all(streams.into_iter().map(|mut stream| async move {
        let mut read = Vec::new();
        tokio::time::timeout(wait, async {
            let mut buffer = [0u8; 4096];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read.extend_from_slice(&buffer[..n]),
                }
            }
        })
        .await
        .ok()
        .map(|()| read)
    }))
    .await
}

/// Whether `stream` is still open after `wait` (nothing read, not closed).
async fn still_open(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = [0u8; 1];
    tokio::time::timeout(wait, stream.read(&mut buffer))
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_send_half_a_head_are_cut_at_the_header_timeout_while_others_are_served() {
    let (router, _subgraph) = router("server:\n  header_read_timeout_ms: 1500\n").await;
    let client = reqwest::Client::new();
    let usual = median_latency(&client, &router, 50).await;

    let mut attackers = stalled(
        &router,
        ATTACKERS,
        b"POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n",
    )
    .await;
    let opened = Instant::now();
    let under_attack = median_latency(&client, &router, 50).await;
    assert!(
        still_open(&mut attackers[ATTACKERS - 1], Duration::from_millis(100)).await,
        "the last connection is not cut before its header timeout"
    );
    let ends = read_until_closed(attackers, Duration::from_secs(6)).await;
    let cut_after = opened.elapsed();
    assert!(
        ends.iter().all(Option::is_some),
        "{} of {ATTACKERS} connections still open {cut_after:?} after they stalled",
        ends.iter().filter(|e| e.is_none()).count()
    );
    assert!(
        within_twice(usual, under_attack),
        "usual {usual:?}, with {ATTACKERS} stalled heads {under_attack:?}"
    );
    // And the router is as it was.
    assert!(within_twice(
        usual,
        median_latency(&client, &router, 20).await
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_that_stop_half_way_get_408_at_the_body_timeout_while_others_are_served() {
    let (router, subgraph) = router("server:\n  body_read_timeout_ms: 1500\n").await;
    let client = reqwest::Client::new();
    let usual = median_latency(&client, &router, 50).await;
    let before = subgraph.count();

    let attackers = stalled(
        &router,
        ATTACKERS,
        b"POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":",
    )
    .await;
    let under_attack = median_latency(&client, &router, 50).await;
    let answers = read_until_closed(attackers, Duration::from_secs(6)).await;
    for answer in &answers {
        let text = String::from_utf8_lossy(answer.as_deref().expect("answered and closed"));
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("BODY_READ_TIMEOUT"), "{text}");
    }
    assert!(
        within_twice(usual, under_attack),
        "usual {usual:?}, with {ATTACKERS} stalled bodies {under_attack:?}"
    );
    assert_eq!(
        subgraph.count(),
        before + 50,
        "no stalled request reached the subgraph"
    );
}

#[tokio::test]
async fn a_body_is_read_inside_the_request_timeout() {
    let (router, _subgraph) =
        router("server:\n  body_read_timeout_ms: 20000\ntraffic:\n  timeout_ms: 500\n").await;
    let started = Instant::now();
    let stream = stalled(
        &router,
        1,
        b"POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .await;
    let answer = read_until_closed(stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(answer[0].as_deref().expect("answered"));
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_that_never_initialise_are_closed_at_the_init_timeout_while_others_are_served() {
    let (router, _subgraph) = router("subscriptions:\n  init_timeout_ms: 1500\n").await;
    let client = reqwest::Client::new();
    let usual = median_latency(&client, &router, 50).await;

    let url = format!("{}/graphql", router.url().replacen("http", "ws", 1));
    let mut sockets = Vec::with_capacity(ATTACKERS);
    for _ in 0..ATTACKERS {
        let mut request = url.as_str().into_client_request().expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        let (socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("upgraded");
        sockets.push(socket);
    }
    let under_attack = median_latency(&client, &router, 50).await;
    let closes = futures::future::join_all(sockets.into_iter().map(|mut socket| async move {
        tokio::time::timeout(Duration::from_secs(6), async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => {
                        return frame.map(|f| u16::from(f.code));
                    }
                    Some(Ok(_)) => continue,
                    _ => return None,
                }
            }
        })
        .await
    }))
    .await;
    for close in &closes {
        assert_eq!(
            close.as_ref().ok(),
            Some(&Some(4408)),
            "closed for the missing connection_init"
        );
    }
    assert!(
        within_twice(usual, under_attack),
        "usual {usual:?}, with {ATTACKERS} idle WebSockets {under_attack:?}"
    );
}

#[tokio::test]
async fn a_kept_alive_connection_is_closed_after_the_idle_timeout_and_a_silent_one_at_the_header_timeout()
 {
    let (router, _subgraph) =
        router("server:\n  idle_timeout_ms: 800\n  header_read_timeout_ms: 400\n").await;
    let request = b"POST /graphql HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: 20\r\n\r\n{\"query\":\"{public}\"}";
    let mut stream = TcpStream::connect(router.addr()).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut buffer = vec![0u8; 4096];
    let n = stream.read(&mut buffer).await.expect("an answer");
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let answered = Instant::now();
    // Past the header timeout, but within the idle timeout: still open, and serving.
    assert!(still_open(&mut stream, Duration::from_millis(500)).await);
    stream.write_all(request).await.expect("write");
    let n = stream.read(&mut buffer).await.expect("a second answer");
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    let answered_again = Instant::now();
    let end = read_until_closed(vec![stream], Duration::from_secs(3)).await;
    assert!(end[0].is_some(), "closed when idle");
    let idle = answered_again.elapsed();
    assert!(
        idle >= Duration::from_millis(700) && answered.elapsed() > Duration::from_millis(1200),
        "closed after {idle:?} idle"
    );

    let silent = TcpStream::connect(router.addr()).await.expect("connect");
    let connected = Instant::now();
    let end = read_until_closed(vec![silent], Duration::from_secs(3)).await;
    assert!(end[0].is_some());
    let waited = connected.elapsed();
    assert!(
        waited >= Duration::from_millis(350) && waited < Duration::from_millis(790),
        "a connection that sends nothing is closed at the header timeout, not the idle one: {waited:?}"
    );
}

#[tokio::test]
async fn clients_beyond_max_connections_wait_until_one_closes() {
    let (router, _subgraph) = router("server:\n  max_connections: 2\n").await;
    let first = TcpStream::connect(router.addr()).await.expect("connect");
    let _second = TcpStream::connect(router.addr()).await.expect("connect");
    // Let the router accept both.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = reqwest::Client::new();
    let waiting = tokio::spawn({
        let url = format!("{}/graphql", router.url());
        async move {
            let started = Instant::now();
            let response = client
                .post(url)
                .json(&serde_json::json!({ "query": "{ public }" }))
                .send()
                .await
                .expect("answered once a connection closes");
            (started.elapsed(), response.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "a third connection is not served");
    drop(first);
    let (waited, status) = waiting.await.expect("joined");
    assert_eq!(status, 200);
    assert!(waited >= Duration::from_millis(500));
}

#[tokio::test]
async fn a_head_larger_than_the_limit_gets_431() {
    let (router, _subgraph) = router("server:\n  max_header_bytes: 8192\n").await;
    let client = reqwest::Client::new();
    let big = "x".repeat(9000);
    let response = client
        .post(format!("{}/graphql", router.url()))
        .header("x-padding", big)
        .json(&serde_json::json!({ "query": "{ public }" }))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 431);
    let fine = post(&router, "{ public }", &[("x-padding", &"x".repeat(4000))]).await;
    assert_eq!(fine.status, 200);
}

#[tokio::test]
async fn a_websocket_frame_above_the_limit_closes_the_socket() {
    let (router, _subgraph) = router("server:\n  websocket_max_frame_bytes: 1024\n").await;
    let url = format!("{}/graphql", router.url().replacen("http", "ws", 1));
    let open = || async {
        let mut request = url.as_str().into_client_request().expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        tokio_tungstenite::connect_async(request)
            .await
            .expect("upgraded")
            .0
    };
    let mut fine = open().await;
    let init =
        serde_json::json!({ "type": "connection_init", "payload": { "pad": "x".repeat(500) } });
    fine.send(Message::text(init.to_string()))
        .await
        .expect("sent");
    let ack = fine.next().await.expect("a message").expect("ok");
    assert!(
        ack.to_text().expect("text").contains("connection_ack"),
        "{ack:?}"
    );

    let mut greedy = open().await;
    let init =
        serde_json::json!({ "type": "connection_init", "payload": { "pad": "x".repeat(2000) } });
    greedy
        .send(Message::text(init.to_string()))
        .await
        .expect("sent");
    let ended = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            match greedy.next().await {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(message)) => {
                    assert!(
                        !message
                            .to_text()
                            .unwrap_or_default()
                            .contains("connection_ack"),
                        "the oversized frame was not accepted"
                    );
                }
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket ends");
}

#[tokio::test]
async fn a_subgraph_response_above_the_limit_fails_its_part_only() {
    let (limited, _subgraph) = router("traffic:\n  subgraph_max_response_bytes: 100\n").await;
    let answer = post(&limited, "{ public }", &[]).await;
    // Data beside errors: a partial success.
    assert_eq!(answer.status, 294, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["public"],
        Value::Null,
        "{}",
        answer.body
    );
    assert_eq!(
        answer.code(),
        "SUBGRAPH_RESPONSE_TOO_LARGE",
        "{}",
        answer.body
    );

    // A subgraph's own limit takes precedence.
    let (own, _subgraph) = router(
        "traffic:\n  subgraph_max_response_bytes: 100\nsubgraphs:\n  main:\n    url: SUBGRAPH_URL\n    max_response_bytes: 100000\n",
    )
    .await;
    let answer = post(&own, "{ public }", &[]).await;
    assert_eq!(answer.body["data"]["public"], "hello", "{}", answer.body);
}

#[tokio::test]
async fn requests_to_one_subgraph_host_wait_for_a_free_connection() {
    async fn four_at_once(config: &str) -> Duration {
        let (router, subgraph) = router(config).await;
        *subgraph.delay.lock().expect("lock") = Duration::from_millis(250);
        let started = Instant::now();
        let answers =
            futures::future::join_all((0..4).map(|_| post(&router, "{ public }", &[]))).await;
        for answer in &answers {
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert!(answer.body.get("errors").is_none(), "{}", answer.body);
        }
        assert_eq!(subgraph.count(), 4);
        started.elapsed()
    }
    let one_at_a_time = four_at_once(
        "traffic:\n  subgraph_max_connections_per_host: 1\ndedupe:\n  subgraph_queries: false\n",
    )
    .await;
    assert!(
        one_at_a_time >= Duration::from_millis(950),
        "four fetches one after another: {one_at_a_time:?}"
    );
    let together = four_at_once("dedupe:\n  subgraph_queries: false\n").await;
    assert!(
        together < Duration::from_millis(900),
        "four fetches in parallel: {together:?}"
    );
}

#[tokio::test]
async fn websocket_upgrades_from_other_sites_pages_are_refused() {
    let config = "cors:\n  allow_origins: [https://app.example.com]\n";
    let (router, _subgraph) = router(config).await;
    let url = format!("{}/graphql", router.url().replacen("http", "ws", 1));
    let upgrade = |origin: Option<String>| {
        let url = url.clone();
        async move {
            let mut request = url.as_str().into_client_request().expect("request");
            request.headers_mut().insert(
                "sec-websocket-protocol",
                "graphql-transport-ws".parse().expect("header"),
            );
            if let Some(origin) = origin {
                request
                    .headers_mut()
                    .insert("origin", origin.parse().expect("header"));
            }
            match tokio_tungstenite::connect_async(request).await {
                Ok(_) => Ok(()),
                Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                    let body = response.body().clone().unwrap_or_default();
                    Err((
                        response.status().as_u16(),
                        String::from_utf8_lossy(&body).into_owned(),
                    ))
                }
                Err(other) => panic!("{other}"),
            }
        }
    };
    assert!(upgrade(None).await.is_ok(), "not a browser");
    assert!(
        upgrade(Some(router.url())).await.is_ok(),
        "the router's own page"
    );
    assert!(
        upgrade(Some("https://app.example.com".into()))
            .await
            .is_ok()
    );
    let (status, body) = upgrade(Some("https://evil.example".into()))
        .await
        .expect_err("refused");
    assert_eq!(status, 403);
    assert!(body.contains("ORIGIN_NOT_ALLOWED"), "{body}");

    let (open, _subgraph) = super::router("subscriptions:\n  allowed_origins: [\"*\"]\n").await;
    let url = format!("{}/graphql", open.url().replacen("http", "ws", 1));
    let mut request = url.as_str().into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    request
        .headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    assert!(tokio_tungstenite::connect_async(request).await.is_ok());
}
