//! Load for live subscriptions: opens many graphql-transport-ws subscriptions to one router,
//! publishes posts through the router at a steady rate, and reports how each event reached the
//! subscribers: delivery latency (from just before the publishing mutation is sent to the
//! moment a subscriber has the event), events lost by subscribers that stayed connected, and
//! the router's resident memory per subscription.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

#[derive(Debug, Parser)]
#[command(name = "subscription-load")]
struct Args {
    /// The router's GraphQL endpoint.
    #[arg(long, default_value = "http://127.0.0.1:4000/graphql")]
    router: String,
    /// Concurrent WebSocket subscriptions (one connection each).
    #[arg(long, default_value_t = 10_000)]
    subscribers: usize,
    /// Distinct signed-up callers the subscribers are spread over.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Events published per second during the measured run.
    #[arg(long, default_value_t = 5.0)]
    rate: f64,
    /// Length of the measured run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// How long to wait for the last events after the last publish.
    #[arg(long, default_value_t = 20)]
    drain_seconds: u64,
    /// The router's process id, to read its resident memory.
    #[arg(long)]
    router_pid: Option<u32>,
    /// Connections opened at once while connecting.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
    /// Write the figures here as JSON too.
    #[arg(long)]
    out: Option<PathBuf>,
}

const SUBSCRIPTION: &str =
    "subscription { postPublished { id title publishedAt author { displayName } } }";

/// What every subscriber shares with the publisher.
struct Shared {
    base: Instant,
    /// Per measured event: microseconds from `base` to just before its publish was sent.
    published: Vec<AtomicU64>,
    warm: AtomicBool,
    warmed: AtomicUsize,
    connected: AtomicUsize,
    errors: Mutex<BTreeMap<String, usize>>,
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    latencies_us: Vec<u32>,
    received: Vec<bool>,
    duplicates: usize,
    lost_connection: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let http = reqwest::Client::new();
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let events = (args.rate * args.seconds as f64).round() as usize;

    eprintln!("signing up the author and {} subscribing users", args.users);
    let author = sign_up(&http, &args.router, &format!("author-{run}@bench.test")).await?;
    let mut tokens = Vec::with_capacity(args.users);
    for chunk in (0..args.users).collect::<Vec<_>>().chunks(8) {
        let signed = futures::future::try_join_all(chunk.iter().map(|i| {
            let email = format!("reader-{run}-{i}@bench.test");
            let (http, router) = (&http, &args.router);
            async move { sign_up(http, router, &email).await }
        }))
        .await?;
        tokens.extend(signed);
    }
    eprintln!("creating {events} draft posts");
    let mut drafts = Vec::with_capacity(events);
    for seq in 0..events {
        let data = gql(
            &http,
            &args.router,
            Some(&author),
            "mutation($input: CreatePostInput!) { createPost(input: $input) { id } }",
            json!({ "input": { "title": format!("bench {seq}"), "body": "load", "tags": [] } }),
        )
        .await?;
        drafts.push(
            data["createPost"]["id"]
                .as_str()
                .context("createPost returned no id")?
                .to_owned(),
        );
    }

    let rss_before = rss_kib(args.router_pid);
    let shared = Arc::new(Shared {
        base: Instant::now(),
        published: (0..events).map(|_| AtomicU64::new(u64::MAX)).collect(),
        warm: AtomicBool::new(true),
        warmed: AtomicUsize::new(0),
        connected: AtomicUsize::new(0),
        errors: Mutex::new(BTreeMap::new()),
    });
    eprintln!("connecting {} subscribers", args.subscribers);
    let ws_url = args.router.replacen("http", "ws", 1);
    let gate = Arc::new(tokio::sync::Semaphore::new(args.connect_concurrency));
    let mut clients = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let token = tokens[i % tokens.len()].clone();
        let (url, shared, gate) = (ws_url.clone(), shared.clone(), gate.clone());
        clients.push(tokio::spawn(async move {
            subscriber(&url, &token, shared, gate, events).await
        }));
    }
    let connect_deadline = Instant::now() + Duration::from_secs(300);
    while shared.connected.load(Ordering::SeqCst) < args.subscribers {
        if Instant::now() > connect_deadline {
            bail!(
                "only {} of {} subscribers connected",
                shared.connected.load(Ordering::SeqCst),
                args.subscribers
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("all connected; publishing warm-up posts until every subscriber has one");
    let mut warmups = 0;
    while shared.warmed.load(Ordering::SeqCst) < args.subscribers {
        let id = gql(
            &http,
            &args.router,
            Some(&author),
            "mutation($input: CreatePostInput!) { createPost(input: $input) { id } }",
            json!({ "input": { "title": "warm-up", "body": "load", "tags": [] } }),
        )
        .await?["createPost"]["id"]
            .as_str()
            .context("no id")?
            .to_owned();
        publish(&http, &args.router, &author, &id).await?;
        warmups += 1;
        if warmups > 300 {
            bail!(
                "only {} subscribers got a warm-up event",
                shared.warmed.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    shared.warm.store(false, Ordering::SeqCst);
    let rss_subscribed = rss_kib(args.router_pid);

    eprintln!("publishing {events} posts at {}/s", args.rate);
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut publishes = Vec::with_capacity(events);
    for (seq, id) in drafts.iter().enumerate() {
        ticker.tick().await;
        let (http, router, author, id, shared) = (
            http.clone(),
            args.router.clone(),
            author.clone(),
            id.clone(),
            shared.clone(),
        );
        publishes.push(tokio::spawn(async move {
            shared.published[seq].store(shared.base.elapsed().as_micros() as u64, Ordering::SeqCst);
            publish(&http, &router, &author, &id).await
        }));
    }
    for publish in publishes {
        publish.await??;
    }
    let rss_peak = rss_kib(args.router_pid);
    eprintln!(
        "waiting up to {} s for the last deliveries",
        args.drain_seconds
    );
    tokio::time::sleep(Duration::from_secs(args.drain_seconds)).await;
    let rss_end = rss_kib(args.router_pid);

    let mut latencies: Vec<u32> = Vec::new();
    let (mut stayed, mut dropped, mut lost, mut delivered, mut duplicates) = (0, 0, 0, 0, 0);
    for client in &clients {
        client.abort();
    }
    // An aborted subscriber hands its record over as it is dropped.
    for client in clients {
        let _ = client.await;
    }
    let seen = std::mem::take(&mut *SEEN.lock().expect("lock"));
    for s in seen {
        if s.lost_connection {
            dropped += 1;
            continue;
        }
        stayed += 1;
        let got = s.received.iter().filter(|r| **r).count();
        delivered += got;
        lost += events - got;
        duplicates += s.duplicates;
        latencies.extend(s.latencies_us);
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        f64::from(latencies[i]) / 1000.0
    };
    let per_subscription = match (rss_before, rss_subscribed) {
        (Some(a), Some(b)) => Some((b as f64 - a as f64) / args.subscribers as f64),
        _ => None,
    };
    let figures = json!({
        "subscribers": args.subscribers,
        "users": args.users,
        "events": events,
        "rate_per_second": args.rate,
        "stayed_connected": stayed,
        "dropped": dropped,
        "delivered": delivered,
        "lost": lost,
        "duplicates": duplicates,
        "latency_ms": { "p50": pct(0.50), "p90": pct(0.90), "p99": pct(0.99), "max": pct(1.0) },
        "router_rss_kib": { "before": rss_before, "subscribed": rss_subscribed, "after_publishing": rss_peak, "end": rss_end },
        "router_kib_per_subscription": per_subscription,
        "errors": *shared.errors.lock().expect("lock"),
    });
    // The figures are this tool's output.
    use std::io::Write as _;
    writeln!(
        std::io::stdout(),
        "{}",
        serde_json::to_string_pretty(&figures)?
    )?;
    if let Some(out) = &args.out {
        std::fs::write(out, serde_json::to_vec_pretty(&figures)?)?;
    }
    if lost > 0 || stayed < args.subscribers {
        bail!(
            "{lost} events lost; {stayed} of {} subscribers stayed connected",
            args.subscribers
        );
    }
    Ok(())
}

/// Every subscriber's record, handed over when it stops.
static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

struct Report(Seen);

impl Drop for Report {
    fn drop(&mut self) {
        SEEN.lock().expect("lock").push(std::mem::take(&mut self.0));
    }
}

async fn subscriber(
    url: &str,
    token: &str,
    shared: Arc<Shared>,
    gate: Arc<tokio::sync::Semaphore>,
    events: usize,
) {
    let mut report = Report(Seen {
        received: vec![false; events],
        ..Seen::default()
    });
    let note = |what: String| {
        *shared.errors.lock().expect("lock").entry(what).or_default() += 1;
    };
    let permit = gate.acquire().await;
    let Ok(mut request) = url.into_client_request() else {
        return note("bad url".into());
    };
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(e) => {
            report.0.lost_connection = true;
            return note(format!("connect: {e}"));
        }
    };
    let init = json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } });
    let subscribe = json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } });
    if socket.send(Message::text(init.to_string())).await.is_err()
        || socket
            .send(Message::text(subscribe.to_string()))
            .await
            .is_err()
    {
        report.0.lost_connection = true;
        return note("send".into());
    }
    drop(permit);
    shared.connected.fetch_add(1, Ordering::SeqCst);
    let mut warmed = false;
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => {
                note(format!("closed: {:?}", frame.map(|f| f.code)));
                break;
            }
            Ok(_) => continue,
            Err(e) => {
                note(format!("socket: {e}"));
                break;
            }
        };
        let at = shared.base.elapsed().as_micros() as u64;
        let Ok(message) = serde_json::from_str::<Value>(&text) else {
            note("invalid JSON".into());
            continue;
        };
        match message["type"].as_str() {
            Some("next") => {
                let post = &message["payload"]["data"]["postPublished"];
                let title = post["title"].as_str().unwrap_or("");
                if let Some(errors) = message["payload"]["errors"].as_array() {
                    for e in errors {
                        note(format!("event error: {}", e["extensions"]["code"]));
                    }
                }
                if title == "warm-up" {
                    if !warmed && shared.warm.load(Ordering::SeqCst) {
                        warmed = true;
                        shared.warmed.fetch_add(1, Ordering::SeqCst);
                    }
                    continue;
                }
                if post["author"]["displayName"].as_str().is_none() {
                    note("event without the author's displayName".into());
                }
                let Some(seq) = title
                    .strip_prefix("bench ")
                    .and_then(|s| s.parse::<usize>().ok())
                    .filter(|s| *s < events)
                else {
                    continue;
                };
                if report.0.received[seq] {
                    report.0.duplicates += 1;
                    continue;
                }
                report.0.received[seq] = true;
                let sent = shared.published[seq].load(Ordering::SeqCst);
                if sent != u64::MAX {
                    report.0.latencies_us.push(at.saturating_sub(sent) as u32);
                }
            }
            Some("ping") => {
                let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            Some("connection_ack" | "pong") => {}
            Some("error") => {
                note(format!(
                    "error: {}",
                    message["payload"][0]["extensions"]["code"]
                ));
                break;
            }
            Some("complete") => {
                note("complete".into());
                break;
            }
            _ => {}
        }
    }
    report.0.lost_connection = true;
}

async fn sign_up(http: &reqwest::Client, router: &str, email: &str) -> anyhow::Result<String> {
    let data = gql(
        http,
        router,
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { accessToken } }",
        json!({ "input": { "email": email, "password": "load test password 1", "displayName": email.split('@').next() } }),
    )
    .await?;
    Ok(data["signUp"]["accessToken"]
        .as_str()
        .context("signUp returned no token")?
        .to_owned())
}

async fn publish(
    http: &reqwest::Client,
    router: &str,
    token: &str,
    id: &str,
) -> anyhow::Result<()> {
    gql(
        http,
        router,
        Some(token),
        "mutation($id: ID!) { publishPost(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .map(|_| ())
}

async fn gql(
    http: &reqwest::Client,
    router: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let mut request = http
        .post(router)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request.send().await?.json().await?;
    if let Some(errors) = body.get("errors") {
        bail!("{query}: {errors}");
    }
    Ok(body["data"].clone())
}

/// The resident memory of process `pid`, in KiB.
fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
