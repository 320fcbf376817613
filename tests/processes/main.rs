//! The `tessera` binary itself, run as separate processes: two routers sharing automatic
//! persisted queries through one Redis, and `tessera router --production`.
//!
//! This is the root package's test (only a package's own tests know where Cargo built its
//! binary), kept beside the end-to-end crate.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { public: String }"#;

/// A subgraph that answers every request `{ public: "hello" }` and counts them.
async fn subgraph() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                (
                    [("content-type", "application/json")],
                    r#"{"data":{"public":"hello"}}"#,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, count)
}

/// A file under the temporary directory, removed when dropped.
struct File(std::path::PathBuf);

impl File {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "tessera-processes-{}-{}-{name}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 6]>())
        ));
        std::fs::write(&path, text).expect("write");
        Self(path)
    }
}

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The supergraph of the one subgraph at `url`, as a file.
fn supergraph_of(url: String) -> File {
    let sdl = tessera_router::compose::compose(&[tessera_router::compose::SubgraphSdl {
        name: "main".to_owned(),
        url,
        sdl: SDL.to_owned(),
    }])
    .expect("composes");
    File::new("supergraph.graphql", &sdl)
}

/// A `tessera router` process, killed when dropped, and its base URL.
struct Router {
    _child: tokio::process::Child,
    url: String,
}

async fn router(supergraph: &File, config: &File, production: bool) -> Router {
    // A port that was free a moment ago; the router binds it itself.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tessera"));
    command
        .args(["router", "--supergraph"])
        .arg(&supergraph.0)
        .arg("--config")
        .arg(&config.0)
        .args(["--port", &port.to_string()])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if production {
        command.arg("--production");
    }
    let child = command.spawn().expect("the tessera binary starts");
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("{url}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the router did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Router { _child: child, url }
}

async fn post(router: &Router, body: &Value, headers: &[(&str, &str)]) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", router.url))
        .header("accept", "application/graphql-response+json")
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON")
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn two_router_processes_share_registered_documents_through_redis() {
    let (url, count) = subgraph().await;
    let supergraph = supergraph_of(url);
    let redis = std::env::var("TESSERA_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let prefix = format!(
        "tessera-processes:{}",
        hex::encode(rand::random::<[u8; 8]>())
    );
    let config = File::new(
        "gateway.yaml",
        &format!(
            "persisted_documents:\n  apq:\n    ttl_secs: 60\n    redis:\n      url: {redis}\n      key_prefix: {prefix}\n      timeout_ms: 1000\n"
        ),
    );
    let (one, two) = (
        router(&supergraph, &config, false).await,
        router(&supergraph, &config, false).await,
    );
    let query = format!(
        "query P{} {{ public }}",
        hex::encode(rand::random::<[u8; 6]>())
    );
    let hash = hex::encode(Sha256::digest(query.as_bytes()));
    let apq = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    assert_eq!(
        code(&post(&two, &json!({ "extensions": apq }), &[]).await),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let registered = post(&one, &json!({ "query": query, "extensions": apq }), &[]).await;
    assert_eq!(registered["data"]["public"], "hello", "{registered}");
    let by_hash = post(&two, &json!({ "extensions": apq }), &[]).await;
    assert_eq!(by_hash["data"]["public"], "hello", "{by_hash}");
    assert_eq!(count.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn tessera_router_production_turns_off_introspection_and_the_plan() {
    let (url, _) = subgraph().await;
    let supergraph = supergraph_of(url);
    let config = File::new("gateway.yaml", "{}\n");
    for production in [false, true] {
        let router = router(&supergraph, &config, production).await;
        let introspection = post(
            &router,
            &json!({ "query": "{ __schema { queryType { name } } }" }),
            &[],
        )
        .await;
        assert_eq!(
            code(&introspection) == "INTROSPECTION_DISABLED",
            production,
            "{introspection}"
        );
        let planned = post(
            &router,
            &json!({ "query": "{ public }" }),
            &[("x-tessera-query-plan", "1")],
        )
        .await;
        assert_eq!(planned["extensions"]["queryPlan"].is_object(), !production);
    }
}
