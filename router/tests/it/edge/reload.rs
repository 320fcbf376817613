//! Hot reload: a changed supergraph or configuration file takes effect without a restart,
//! requests in flight finish, and an invalid file leaves the running version in place.

use std::time::{Duration, Instant};

use serde_json::json;
use tessera_router::reload::Sources;
use tessera_router::server::RouterServer;

use super::tempfile_path::write;
use super::{SDL, post, subgraph, supergraph_of};

/// Polls `check` until it holds, for at most five seconds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn serves_a_changed_supergraph_and_config_without_dropping_requests() {
    let (subgraph, url) = subgraph().await;
    let supergraph_file = write(&supergraph_of(&url, SDL));
    let config_file = write("reload:\n  interval_ms: 50\n");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = RouterServer::start_watching(
        listener,
        Sources {
            supergraph: supergraph_file.path().to_owned(),
            config: Some(config_file.path().to_owned()),
            mode: tessera_router::config::Mode::Development,
        },
    )
    .await
    .expect("router");

    let answer = post(&router, "{ extra }", &[]).await;
    assert_eq!(
        answer.code(),
        "GRAPHQL_VALIDATION_FAILED",
        "{}",
        answer.body
    );

    // A request in flight while the supergraph changes finishes on the old one.
    *subgraph.delay.lock().expect("lock") = Duration::from_millis(600);
    let slow = {
        let url = router.url();
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(format!("{url}/graphql"))
                .json(&json!({ "query": "{ public }" }))
                .send()
                .await
                .expect("answer")
                .json::<serde_json::Value>()
                .await
                .expect("JSON")
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let extended = SDL.replace("public: String", "public: String\n  extra: String");
    std::fs::write(supergraph_file.path(), supergraph_of(&url, &extended)).expect("write");
    eventually("the new field is served", async || {
        post(&router, "{ extra }", &[]).await.body["data"]["extra"] == json!("new")
    })
    .await;
    assert_eq!(slow.await.expect("task")["data"]["public"], json!("hello"));
    *subgraph.delay.lock().expect("lock") = Duration::ZERO;

    // The configuration changes too: introspection goes off.
    std::fs::write(
        config_file.path(),
        "reload:\n  interval_ms: 50\nintrospection:\n  enabled: false\n",
    )
    .expect("write");
    eventually("introspection is off", async || {
        post(&router, "{ __schema { queryType { name } } }", &[])
            .await
            .code()
            == "INTROSPECTION_DISABLED"
    })
    .await;

    // Broken files are refused; the running version keeps serving.
    std::fs::write(config_file.path(), "reload: [not, a, map]\n").expect("write");
    std::fs::write(supergraph_file.path(), "type Query {").expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = post(&router, "{ extra }", &[]).await;
    assert_eq!(
        answer.body["data"]["extra"],
        json!("new"),
        "{}",
        answer.body
    );
    router.shutdown().await;
}
