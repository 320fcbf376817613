//! The playground: the committed bundle is the one its sources build (checked without Node),
//! the router serves GraphiQL's page and bundled assets itself, with the right types, caching
//! and Content-Security-Policy, and in a real headless Chromium the page loads the schema
//! through introspection, runs an operation and shows its result without reaching any other
//! origin.
//!
//! The browser tests need Node with the playground's npm packages (`scripts/build-playground
//! --install`, which they run) and a Chromium (`scripts/ensure-browser`); they fail, rather than
//! skip, when either is missing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use sha2::{Digest as _, Sha256};
use tessera_router::config::GatewayConfig;
use tessera_router::playground;
use tessera_router::server::RouterServer;
use tokio::net::TcpListener;
use tokio::process::Command;

const BROWSER_TEST_TIMEOUT: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the router crate sits in the repository")
        .to_path_buf()
}

/// The page compiled into this test binary.
async fn embedded_page() -> String {
    let body = axum::body::to_bytes(playground::page().into_body(), usize::MAX)
        .await
        .expect("an in-memory body");
    String::from_utf8(body.to_vec()).expect("an HTML page")
}

/// The page's script and stylesheet URLs.
fn asset_urls(page: &str) -> Vec<String> {
    let urls: Vec<String> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| page.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|url| url.starts_with("/playground/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(urls.len(), 2, "one script and one stylesheet in {page}");
    urls
}

async fn serve_playground_alone() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let server = tokio::spawn(async move {
        axum::serve(listener, playground::routes::<()>())
            .await
            .expect("the playground server runs");
    });
    (url, server)
}

fn playground_dir() -> PathBuf {
    repo_root().join("router/playground")
}

/// The digest `build.mjs` records in `dist/sources.sha256`: SHA-256 over every input file, in
/// byte order of its path relative to `router/playground` ('/'-separated), each as the path, a
/// NUL byte, its length in decimal, a NUL byte and its bytes.
fn sources_digest() -> String {
    fn walk(root: &Path, relative: &str, files: &mut Vec<String>) {
        let path = root.join(relative);
        if path.is_dir() {
            let entries = std::fs::read_dir(&path).expect("a readable playground directory");
            for entry in entries {
                let name = entry.expect("a readable entry").file_name();
                let name = name.to_str().expect("UTF-8 file names");
                walk(root, &format!("{relative}/{name}"), files);
            }
        } else {
            files.push(relative.to_owned());
        }
    }
    let root = playground_dir();
    let mut files = Vec::new();
    for input in ["build.mjs", "package.json", "package-lock.json", "src"] {
        walk(&root, input, &mut files);
    }
    files.sort();
    let mut hash = Sha256::new();
    for file in &files {
        let bytes = std::fs::read(root.join(file)).expect("a readable playground source");
        hash.update(file.as_bytes());
        hash.update(b"\0");
        hash.update(bytes.len().to_string().as_bytes());
        hash.update(b"\0");
        hash.update(&bytes);
    }
    hash.finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[tokio::test]
async fn the_embedded_bundle_is_the_committed_one_built_from_the_current_sources() {
    let dist = playground_dir().join("dist");
    let recorded = std::fs::read_to_string(dist.join("sources.sha256"))
        .expect("the committed bundle records the digest of its sources");
    assert_eq!(
        recorded.trim(),
        sources_digest(),
        "router/playground's sources or npm packages changed since router/playground/dist was \
         built: run scripts/build-playground and commit router/playground/dist"
    );
    let committed = std::fs::read_to_string(dist.join("index.html")).expect("dist/index.html");
    assert_eq!(
        embedded_page().await,
        committed,
        "the router embeds another bundle than router/playground/dist"
    );
    for url in asset_urls(&committed) {
        let name = url.trim_start_matches("/playground/");
        assert!(
            dist.join("assets").join(name).is_file(),
            "{url} is committed"
        );
        assert!(
            dist.join("assets").join(format!("{name}.gz")).is_file(),
            "{url} has its gzip copy"
        );
    }
}

#[tokio::test]
async fn serves_the_page_and_hashed_assets_with_types_caching_and_csp() {
    let (base, server) = serve_playground_alone().await;
    let client = crate::undecoding_client();

    let page = client.get(format!("{base}/")).send().await.expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    let csp = headers[CONTENT_SECURITY_POLICY].to_str().expect("ASCII");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("http"), "no other origin is allowed: {csp}");
    let page = page.text().await.expect("the page");

    for url in asset_urls(&page) {
        let asset = client
            .get(format!("{base}{url}"))
            .send()
            .await
            .expect("asset");
        assert_eq!(asset.status(), StatusCode::OK, "{url}");
        let expected_type = if url.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(asset.headers()[CONTENT_TYPE], expected_type, "{url}");
        assert_eq!(
            asset.headers()[CACHE_CONTROL],
            "public, max-age=31536000, immutable",
            "{url}"
        );
        assert!(asset.headers().get(CONTENT_ENCODING).is_none(), "{url}");
        let plain = asset.bytes().await.expect("asset body");

        let gzipped = client
            .get(format!("{base}{url}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .expect("gzipped asset");
        assert_eq!(gzipped.headers()[CONTENT_ENCODING], "gzip", "{url}");
        let compressed = gzipped.bytes().await.expect("asset body");
        assert!(compressed.len() < plain.len(), "{url} is smaller gzipped");
    }

    let missing = client
        .get(format!("{base}/playground/nothing-here.js"))
        .send()
        .await
        .expect("GET a missing asset");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.abort();
}

/// Runs one of the repository's scripts to completion and returns its stdout.
async fn run_script(name: &str, args: &[&str]) -> String {
    let output = Command::new(repo_root().join("scripts").join(name))
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|error| panic!("cannot run scripts/{name}: {error}"));
    assert!(
        output.status.success(),
        "scripts/{name} failed ({}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_loads_the_schema_and_runs_an_operation_in_chromium() {
    // The npm packages the browser script uses.
    run_script("build-playground", &["--install"]).await;
    let supergraph = std::fs::read_to_string(repo_root().join("schema/supergraph.graphql"))
        .expect("the checked-in supergraph");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let router = RouterServer::start(listener, &supergraph, GatewayConfig::default())
        .await
        .expect("the router starts on the platform supergraph");

    // Planned across four subgraphs (none of which runs: the plan is what this checks), with
    // subgraph operations longer than the plan pane is wide.
    let plan_query = "query PlaygroundPlan {\n  me {\n    displayName\n    emailVerified\n    \
                      roles { name }\n    posts(first: 3) { edges { node { title } } }\n    \
                      invoices(first: 3) { edges { node { total status } } }\n  }\n}\n";
    let output = browser_test(
        &router.url(),
        &[
            "--expect-field",
            "me",
            "--expect-field",
            "user",
            "--plan-query",
            plan_query,
        ],
    )
    .await;
    router.shutdown().await;
    assert_browser_test(&output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_subscription_over_the_routers_websocket_in_chromium() {
    run_script("build-playground", &["--install"]).await;
    let s = crate::subscriptions::setup("").await;
    let publisher = crate::subscriptions::keep_publishing(&s.posts, "From the playground");
    let output = browser_test(
        &s.router.url(),
        &[
            "--expect-field",
            "post",
            "--subscription",
            "subscription Live {\n  postAdded {\n    title\n    author { name }\n  }\n}\n",
            "--expect-event",
            "Name of u-p",
        ],
    )
    .await;
    publisher.abort();
    assert_browser_test(&output);
}

/// Runs the browser script against the router at `url`.
async fn browser_test(url: &str, args: &[&str]) -> std::process::Output {
    let chromium = match std::env::var("TESSERA_CHROMIUM") {
        Ok(path) if !path.is_empty() => path,
        _ => run_script("ensure-browser", &[]).await.trim().to_owned(),
    };
    let browser_test = Command::new("node")
        .arg("tests/playground.e2e.mjs")
        .arg(url)
        .args(args)
        .current_dir(repo_root().join("router/playground"))
        .env("TESSERA_CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(BROWSER_TEST_TIMEOUT, browser_test)
        .await
        .expect("the browser test finishes in time")
        .expect("node runs (install Node.js 20 or later)")
}

fn assert_browser_test(output: &std::process::Output) {
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    assert!(
        output.status.success(),
        "the playground browser test failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
