//! Fetches wait for the fetches they depend on and for nothing else: a chain of entity fetches
//! goes on while an unrelated fetch of the same depth is still out.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;
use tokio::sync::Notify;

use super::{ask, start};

const LINK: &str =
    r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])"#;

type Log = Arc<Mutex<Vec<&'static str>>>;

/// A subgraph answering `body` to every request, logging `name` when a request arrives.
async fn answering(name: &'static str, body: Value, log: Log, seen: Arc<Notify>) -> String {
    let app = Router::new().route(
        "/graphql",
        post(move || {
            let (body, log, seen) = (body.clone(), log.clone(), seen.clone());
            async move {
                log.lock().expect("the log").push(name);
                seen.notify_one();
                axum::Json(body)
            }
        }),
    );
    crate::serve(app).await
}

/// A subgraph that holds its answer until `release` fires (or 5 s pass), logging both ends.
async fn holding(body: Value, log: Log, release: Arc<Notify>) -> String {
    let app = Router::new().route(
        "/graphql",
        post(move || {
            let (body, log, release) = (body.clone(), log.clone(), release.clone());
            async move {
                log.lock().expect("the log").push("slow: asked");
                let released = tokio::time::timeout(Duration::from_secs(5), release.notified())
                    .await
                    .is_ok();
                log.lock().expect("the log").push(if released {
                    "slow: released"
                } else {
                    "slow: gave up waiting"
                });
                axum::Json(body)
            }
        }),
    );
    crate::serve(app).await
}

#[tokio::test]
async fn an_entity_chain_does_not_wait_for_an_unrelated_slow_fetch() {
    let log: Log = Arc::default();
    let next_seen = Arc::new(Notify::new());
    let ignored = Arc::new(Notify::new());
    let top = answering(
        "top",
        json!({"data": {"fast": {"__typename": "Fast", "id": "f"}, "slow": {"__typename": "Slow", "id": "s"}}}),
        log.clone(),
        ignored.clone(),
    )
    .await;
    let fast = answering(
        "fast",
        json!({"data": {"_entities": [{"__typename": "Fast", "next": {"__typename": "Next", "id": "n"}}]}}),
        log.clone(),
        ignored.clone(),
    )
    .await;
    let next = answering(
        "next",
        json!({"data": {"_entities": [{"__typename": "Next", "name": "the next one"}]}}),
        log.clone(),
        next_seen.clone(),
    )
    .await;
    let slow = holding(
        json!({"data": {"_entities": [{"__typename": "Slow", "late": "late"}]}}),
        log.clone(),
        next_seen.clone(),
    )
    .await;
    let subgraph = |name: &str, url: String, sdl: &str| SubgraphSdl {
        name: name.to_owned(),
        url,
        sdl: format!("{LINK}\n{sdl}"),
    };
    let supergraph = compose(&[
        subgraph(
            "top",
            top,
            r#"type Query { fast: Fast slow: Slow }
               type Fast @key(fields: "id") { id: ID! }
               type Slow @key(fields: "id") { id: ID! }"#,
        ),
        subgraph(
            "fast",
            fast,
            r#"type Fast @key(fields: "id") { id: ID! next: Next }
               type Next @key(fields: "id", resolvable: false) { id: ID! }"#,
        ),
        subgraph(
            "next",
            next,
            r#"type Next @key(fields: "id") { id: ID! name: String }"#,
        ),
        subgraph(
            "slow",
            slow,
            r#"type Slow @key(fields: "id") { id: ID! late: String }"#,
        ),
    ])
    .expect("composes");
    let router = start(&supergraph, GatewayConfig::default()).await;
    let (status, body) = ask(&router, "{ fast { next { name } } slow { late } }").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"data": {"fast": {"next": {"name": "the next one"}}, "slow": {"late": "late"}}})
    );
    let log = log.lock().expect("the log").clone();
    // `next` depends only on `fast`, so it is asked while `slow` is still out.
    assert_eq!(log.first(), Some(&"top"), "{log:?}");
    let at = |event: &str| log.iter().position(|e| *e == event);
    assert!(
        at("next").is_some() && at("slow: released").is_some(),
        "{log:?}"
    );
    assert!(at("next") < at("slow: released"), "{log:?}");
    router.shutdown().await;
}
