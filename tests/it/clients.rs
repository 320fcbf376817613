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
    let extra = ExtraRouters::start(&p).await;

    let node = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec"])
        .current_dir(&suite)
        .env("TESSERA_ROUTER_URL", p.url("router", "/graphql"))
        .env("TESSERA_ADMIN_EMAIL", ADMIN)
        .env("TESSERA_ADMIN_PASSWORD", PASSWORD)
        .env("TESSERA_APQ_ROUTER_URLS", &extra.apq)
        .env("TESSERA_SAFELIST_ROUTER_URL", &extra.safelist)
        .env("TESSERA_SAFELIST_MANIFEST", extra.safelist_manifest.path())
        .env("TESSERA_LOG_ROUTER_URL", &extra.log)
        .env("TESSERA_LOG_MANIFEST", extra.log_manifest.path())
        .env("NO_COLOR", "1")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NODE_TIMEOUT, node)
        .await
        .unwrap_or_else(|_| panic!("node --test ran past {NODE_TIMEOUT:?}"))
        .expect("node (Node.js 20 or later) runs the client suite");
    extra.shutdown().await;
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

/// Routers beside the platform's, over the same subgraphs with the same settings, for the
/// persisted document tests: two sharing automatic persisted queries through Redis, one with a
/// safelist and one in log mode, each with a manifest the suite writes.
struct ExtraRouters {
    routers: Vec<tessera_router::server::RouterServer>,
    apq: String,
    safelist: String,
    log: String,
    safelist_manifest: Manifest,
    log_manifest: Manifest,
}

impl ExtraRouters {
    async fn start(p: &TestPlatform) -> Self {
        use tessera_router::config::persisted::{ApqRedis, PersistedMode};
        let base = p
            .platform
            .router_config()
            .expect("the platform runs a router");
        let manifest = |text: &str| {
            let path = std::env::temp_dir().join(format!(
                "tessera-manifest-{}.json",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::write(&path, text).expect("write");
            Manifest(path)
        };
        let safelist_manifest =
            manifest(r#"{"format":"apollo-persisted-query-manifest","version":1,"operations":[]}"#);
        let log_manifest = manifest("{}");
        let redis = std::env::var("TESSERA_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let prefix = format!("tessera-clients:apq:{}", uuid::Uuid::new_v4().simple());
        let mut configs = Vec::new();
        for _ in 0..2 {
            let mut config = base.clone();
            config.persisted_documents.apq.redis = Some(ApqRedis {
                url: tessera_router::config::rate_limit::RedisUrl::new(redis.clone()),
                key_prefix: prefix.clone(),
                timeout_ms: 1_000,
            });
            configs.push(config);
        }
        for (mode, path) in [
            (PersistedMode::Safelist, &safelist_manifest),
            (PersistedMode::Log, &log_manifest),
        ] {
            let mut config = base.clone();
            config.reload.interval_ms = 50;
            config.persisted_documents.mode = mode;
            config.persisted_documents.manifest = Some(path.0.clone());
            configs.push(config);
        }
        let mut routers = Vec::new();
        for config in configs {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            routers.push(
                tessera_router::server::RouterServer::start(
                    listener,
                    &p.platform.supergraph,
                    config,
                )
                .await
                .expect("router"),
            );
        }
        let url = |i: usize| format!("{}/graphql", routers[i].url());
        Self {
            apq: format!("{},{}", url(0), url(1)),
            safelist: url(2),
            log: url(3),
            routers,
            safelist_manifest,
            log_manifest,
        }
    }

    async fn shutdown(self) {
        for router in self.routers {
            router.shutdown().await;
        }
    }
}

/// A manifest file the suite rewrites, removed at the end.
struct Manifest(std::path::PathBuf);

impl Manifest {
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Manifest {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
