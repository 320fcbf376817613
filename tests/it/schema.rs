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
