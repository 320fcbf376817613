//! Each subgraph's exported SDL (`_service { sdl }`) is checked in under schema/; these tests
//! fail when the two drift apart.

use tessera_tests::TestPlatform;

/// Set to rewrite the checked-in files from the running services.
const UPDATE: &str = "UPDATE_SCHEMA";

async fn check(service: &str) {
    let p = TestPlatform::start().await.expect("platform");
    let r = p.query(service, "{ _service { sdl } }", None).await.ok();
    let live = r.data("_service.sdl").as_str().expect("sdl").to_owned();
    p.shutdown().await;

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../schema/{service}.graphql"));
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&path, &live).expect("write schema file");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == live,
        "schema/{service}.graphql differs from what the {service} service exports; \
         refresh it with `{UPDATE}=1 cargo nextest run -p tessera-tests schema::` and commit it"
    );
}

#[tokio::test]
async fn auth_sdl_matches_the_checked_in_schema() {
    check("auth").await;
}

#[tokio::test]
async fn identity_sdl_matches_the_checked_in_schema() {
    check("identity").await;
}

#[tokio::test]
async fn authz_sdl_matches_the_checked_in_schema() {
    check("authz").await;
}

#[tokio::test]
async fn audit_sdl_matches_the_checked_in_schema() {
    check("audit").await;
}

#[tokio::test]
async fn billing_sdl_matches_the_checked_in_schema() {
    check("billing").await;
}

#[tokio::test]
async fn blog_sdl_matches_the_checked_in_schema() {
    check("blog").await;
}

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

#[tokio::test]
async fn the_checked_in_supergraph_is_what_compose_produces() {
    let gateway = tessera_router::config::GatewayConfig::load(&repo("gateway-config/dev.yaml"))
        .expect("gateway config");
    let checked_in = std::fs::read_to_string(repo("schema/supergraph.graphql")).unwrap_or_default();

    // From the checked-in subgraph files, as `tessera compose` does by default.
    let from_files =
        tessera_router::compose::sources::from_dir(&repo("schema"), &gateway.subgraphs)
            .expect("schema files");
    let composed = tessera::compose::compose_or_report(&from_files).expect("composes");
    assert!(
        composed == checked_in,
        "schema/supergraph.graphql is stale: run `tessera compose` and commit it"
    );

    // From the running services, as `tessera compose --from-running` and `tessera dev` do.
    let p = TestPlatform::start().await.expect("platform");
    let http = reqwest::Client::new();
    let mut live = Vec::new();
    for (name, config) in &gateway.subgraphs.0 {
        let url = p.url(name, "/graphql");
        let sdl = tessera_router::compose::sources::fetch_sdl(&http, &url)
            .await
            .expect("sdl");
        live.push(tessera_router::compose::SubgraphSdl {
            name: name.clone(),
            url: config.url.clone(),
            sdl,
        });
    }
    p.shutdown().await;
    let composed = tessera::compose::compose_or_report(&live).expect("composes");
    assert!(
        composed == checked_in,
        "the running services compose to something other than schema/supergraph.graphql"
    );
}
