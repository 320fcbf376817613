//! The six services behind one router: a user's profile, roles, posts, invoices and audit trail
//! come back from one query, each part resolved by the service that owns it.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_tests::{TestPlatform, eventually};

const PASSWORD: &str = "correct horse battery";

const PROFILE: &str = "query($id: ID!) { user(id: $id) { \
    displayName email \
    roles { name } permissions \
    posts(first: 5) { edges { node { title status } } } \
    subscription { status plan { code } } \
    invoices(first: 5) { edges { node { status total currency } } } \
    auditTrail(first: 50) { edges { node { type source } } } } }";

async fn router(p: &TestPlatform, query: &str, variables: Value, token: &str) -> Value {
    let r = p.gql("router", query, variables, Some(token)).await;
    assert!(
        r.body["errors"].is_null(),
        "{query} answered with errors: {}",
        r.body
    );
    r.body["data"].clone()
}

fn types(trail: &Value) -> Vec<String> {
    trail["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["type"].as_str().expect("type").to_owned())
        .collect()
}

#[tokio::test]
async fn one_query_reads_a_user_across_identity_authz_blog_billing_and_audit() {
    let p = TestPlatform::builder()
        .admin("root@example.com")
        .start()
        .await
        .expect("platform");
    let admin = p.registered("root@example.com", PASSWORD, "Root").await;
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;

    // authz: a role of Ada's own.
    router(
        &p,
        "mutation { createRole(input: { name: \"editor\", permissions: [\"blog:moderate\"] }) { id } }",
        json!({}),
        &admin.access,
    )
    .await;
    router(
        &p,
        "mutation($u: ID!) { grantRole(input: { userId: $u, roleName: \"editor\" }) { id } }",
        json!({ "u": ada.user_id }),
        &admin.access,
    )
    .await;

    // blog: a published post.
    let post = router(
        &p,
        "mutation { createPost(input: { title: \"Notes on engines\", body: \"*The* analytical one.\", tags: [\"history\"] }) { id } }",
        json!({}),
        &ada.access,
    )
    .await;
    let post_id = post["createPost"]["id"]
        .as_str()
        .expect("post id")
        .to_owned();
    router(
        &p,
        "mutation($id: ID!) { publishPost(id: $id) { status } }",
        json!({ "id": post_id }),
        &ada.access,
    )
    .await;

    // billing: a paid subscription.
    let plans = router(&p, "{ plans { id code } }", json!({}), &ada.access).await;
    let plan = &plans["plans"][0];
    router(
        &p,
        "mutation($i: SubscribeInput!) { subscribeToPlan(input: $i) { subscription { status } } }",
        json!({ "i": { "planId": plan["id"], "paymentMethod": "pm_card_visa", "idempotencyKey": "first" } }),
        &ada.access,
    )
    .await;

    // audit records what happened to and by Ada as the events arrive.
    let expected = [
        "auth.signed_up",
        "user.registered",
        "role.granted",
        "post.created",
        "post.published",
        "subscription.started",
        "invoice.paid",
    ];
    let vars = json!({ "id": ada.user_id });
    let user = eventually(Duration::from_secs(30), || async {
        let data = router(&p, PROFILE, vars.clone(), &ada.access).await;
        let seen = types(&data["user"]["auditTrail"]);
        expected
            .iter()
            .all(|t| seen.iter().any(|s| s == t))
            .then(|| data["user"].clone())
    })
    .await
    .expect("the audit trail holds the scenario's events");

    // identity
    assert_eq!(user["displayName"], "Ada");
    assert_eq!(user["email"], "ada@example.com");
    // authz
    assert_eq!(user["roles"], json!([{ "name": "editor" }]));
    assert_eq!(user["permissions"], json!(["blog:moderate"]));
    // blog
    assert_eq!(
        user["posts"]["edges"],
        json!([{ "node": { "title": "Notes on engines", "status": "PUBLISHED" } }])
    );
    // billing
    assert_eq!(user["subscription"]["status"], "ACTIVE");
    assert_eq!(user["subscription"]["plan"]["code"], plan["code"]);
    let invoices = user["invoices"]["edges"].as_array().expect("invoices");
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0]["node"]["status"], "PAID");
    assert!(invoices[0]["node"]["total"].as_i64().expect("minor units") > 0);
    // audit: every service that acted shows up, newest first.
    let sources: Vec<&str> = user["auditTrail"]["edges"]
        .as_array()
        .expect("trail")
        .iter()
        .map(|e| e["node"]["source"].as_str().expect("source"))
        .collect();
    for service in ["auth", "identity", "authz", "blog", "billing"] {
        assert!(sources.contains(&service), "{service} in {sources:?}");
    }

    p.shutdown().await;
}
