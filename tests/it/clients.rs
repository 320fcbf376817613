//! The GraphQL clients people use (Apollo Client, urql, graphql-ws, graphql-sse,
//! subscriptions-transport-ws, graphql-js) against the platform as `tessera dev` runs it: the
//! Node suite in `tests/clients/`, run with `node --test` against a platform started here with
//! `gateway-config/dev.yaml`'s router settings and the in-process event bus.

use std::path::Path;
use std::time::Duration;

use tessera_tests::TestPlatform;

/// The administrator the suite reads the audit log as.
const ADMIN: &str = "root@clients.example.com";
const PASSWORD: &str = "correct horse battery staple";

/// Far above the suite's own run (well under a minute); only a hung client trips it.
const NODE_TIMEOUT: Duration = Duration::from_secs(150);

#[tokio::test]
async fn the_javascript_clients_people_use_speak_to_the_router() {
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    assert!(
        suite.join("node_modules/.package-lock.json").exists(),
        "the client suite's npm packages are not installed in tests/clients/node_modules: \
         run scripts/ensure-client-packages (scripts/test does)"
    );
    let p = TestPlatform::builder()
        .dev_gateway()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    p.registered(ADMIN, PASSWORD, "Root").await;

    let node = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .current_dir(&suite)
        .env("TESSERA_ROUTER_URL", p.url("router", "/graphql"))
        .env("TESSERA_ADMIN_EMAIL", ADMIN)
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NODE_TIMEOUT, node)
        .await
        .unwrap_or_else(|_| panic!("node --test ran past {NODE_TIMEOUT:?}"))
        .expect("node (Node.js 20 or later) runs the client suite");
    p.shutdown().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "node --test failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    // In the test's log, shown with --no-capture.
    tracing::info!("node --test passed:\n{stdout}");
    // The spec reporter's summary: `ℹ tests 31`.
    let ran = stdout
        .lines()
        .find_map(|line| line.trim_start_matches(['ℹ', ' ']).strip_prefix("tests "))
        .and_then(|count| count.trim().parse::<u32>().ok());
    assert!(
        ran.is_some_and(|count| count > 0),
        "node --test ran no test:\n{stdout}"
    );
}
