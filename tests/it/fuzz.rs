//! Random valid operations over our own supergraph, through the router as `tessera dev` runs it:
//! `scripts/fuzz-operations --check` with a fixed seed. Every answer must fit its operation and
//! the API schema: HTTP 200 JSON, exactly the selected response keys in selection order, no
//! null at a non-null type, `__typename` values that are possible types, and errors with a
//! message, an `extensions.code` and a path that leads through the response to a null and
//! names nothing internal. The caller is a registered administrator with one published post
//! and one comment.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use tessera_tests::TestPlatform;

const ADMIN: &str = "root@fuzz.example.com";
const PASSWORD: &str = "correct horse battery staple";
/// The slice: the same operations on every run, generated from the router's API schema.
const SEED: &str = "1";
const OPERATIONS: u32 = 200;
/// Problems understood and not the router's, as `kind: message` patterns: reported in the
/// run's output, not failures. Blog's own complexity limit refuses some large valid selections.
const KNOWN: [&str; 1] =
    [r"^validation: GRAPHQL_VALIDATION_FAILED from blog: Query is too complex"];
/// Far above the script's own run (a few seconds); only a hung request trips it.
const NODE_TIMEOUT: Duration = Duration::from_secs(90);

#[tokio::test]
async fn random_operations_get_answers_that_fit_the_operation_and_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("tests/clients/node_modules/graphql/package.json")
            .exists(),
        "graphql-js is not installed in tests/clients/node_modules: run \
         scripts/ensure-client-packages (scripts/test does)"
    );
    let p = TestPlatform::builder()
        .dev_gateway()
        .admin(ADMIN)
        .start()
        .await
        .expect("platform");
    let session = p.registered(ADMIN, PASSWORD, "Root").await;
    let token = Some(session.access.as_str());
    // A published post with a comment, so that lists have something to answer. Their ids are
    // not given to the generator: the operations stay the same from run to run.
    let post = p
        .gql(
            "router",
            "mutation($i: CreatePostInput!) { createPost(input: $i) { id slug } }",
            json!({ "i": { "title": "Fuzzing", "body": "Random operations", "tags": ["rust"] } }),
            token,
        )
        .await
        .ok();
    let post_id = post.data("createPost")["id"]
        .as_str()
        .expect("a post id")
        .to_owned();
    p.gql(
        "router",
        "mutation($id: ID!) { publishPost(id: $id) { id } }",
        json!({ "id": post_id }),
        token,
    )
    .await
    .ok();
    p.gql(
        "router",
        "mutation($i: AddCommentInput!) { addComment(input: $i) { id } }",
        json!({ "i": { "postId": post_id, "body": "A comment" } }),
        token,
    )
    .await
    .ok();
    let out = std::env::temp_dir().join(format!("tessera-fuzz-{}", uuid::Uuid::new_v4()));

    let run = tokio::process::Command::new(root.join("scripts/fuzz-operations"))
        .arg("--check")
        .args(["--seed", SEED, "--count", &OPERATIONS.to_string()])
        .args(["--gateway", &p.url("router", "/graphql")])
        .args([
            "--header",
            &format!("authorization: Bearer {}", session.access),
        ])
        .args(KNOWN.iter().flat_map(|known| ["--known", known]))
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(NODE_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("scripts/fuzz-operations ran past {NODE_TIMEOUT:?}"))
        .expect("node (Node.js 20 or later) runs scripts/fuzz-operations");
    p.shutdown().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let problems = std::fs::read_to_string(out.join("problems.jsonl")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&out);
    let first: Vec<&str> = problems.lines().take(3).collect();
    assert!(
        output.status.success(),
        "scripts/fuzz-operations --check failed ({}):\n{stdout}\n{stderr}\nfirst cases:\n{}",
        output.status,
        first.join("\n")
    );
    assert!(
        stdout.contains(&format!("sent {OPERATIONS}")),
        "not every operation was sent:\n{stdout}"
    );
    tracing::info!("scripts/fuzz-operations --check passed:\n{stdout}");
}
