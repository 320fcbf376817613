//! Profiles, email verification, admin listing, and the entity resolver.

use serde_json::json;
use tessera_tests::TestPlatform;

const PASSWORD: &str = "correct horse battery";

#[tokio::test]
async fn updates_the_profile_and_rejects_bad_names() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.registered("ivy@example.com", PASSWORD, "Ivy").await;
    let update =
        "mutation($n: String!) { updateProfile(input: { displayName: $n }) { id displayName } }";
    let r = p
        .gql(
            "identity",
            update,
            json!({ "n": "  Ivy Lee " }),
            Some(&s.access),
        )
        .await
        .ok();
    assert_eq!(r.data("updateProfile.displayName"), "Ivy Lee");
    let blank = p
        .gql("identity", update, json!({ "n": "  " }), Some(&s.access))
        .await;
    assert_eq!(blank.code(), Some("BAD_USER_INPUT"));
    let anonymous = p.gql("identity", update, json!({ "n": "x" }), None).await;
    assert_eq!(anonymous.code(), Some("UNAUTHENTICATED"));
    p.shutdown().await;
}

#[tokio::test]
async fn verifies_email_with_a_single_use_mailed_token() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.registered("jade@example.com", PASSWORD, "Jade").await;
    let asked = p
        .query(
            "identity",
            "mutation { requestEmailVerification }",
            Some(&s.access),
        )
        .await
        .ok();
    assert_eq!(asked.data("requestEmailVerification"), true);
    let token = p.mailed_token("jade@example.com", "Verify").await;

    // Clicked from the mail, with no session: the link proves the address, so its holder sees it.
    let verify = "mutation($t: String!) { verifyEmail(token: $t) { id email emailVerified } }";
    let r = p
        .gql("identity", verify, json!({ "t": token }), None)
        .await
        .ok();
    assert_eq!(r.data("verifyEmail.emailVerified"), true);
    assert_eq!(r.data("verifyEmail.id"), &json!(s.user_id));
    assert_eq!(r.data("verifyEmail.email"), &json!("jade@example.com"));
    let again = p.gql("identity", verify, json!({ "t": token }), None).await;
    assert_eq!(again.code(), Some("INVALID_TOKEN"));
    let forged = p
        .gql("identity", verify, json!({ "t": "AAAA" }), None)
        .await;
    assert_eq!(forged.code(), Some("INVALID_TOKEN"));

    let me = p
        .query("identity", "{ me { emailVerified } }", Some(&s.access))
        .await
        .ok();
    assert_eq!(me.data("me.emailVerified"), true);
    // Verified already: nothing more is sent.
    let more = p
        .query(
            "identity",
            "mutation { requestEmailVerification }",
            Some(&s.access),
        )
        .await
        .ok();
    assert_eq!(more.data("requestEmailVerification"), false);
    p.shutdown().await;
}

#[tokio::test]
async fn lists_users_only_for_holders_of_users_read() {
    let p = TestPlatform::builder()
        .admin("root@example.com")
        .start()
        .await
        .expect("platform");
    let admin = p.sign_up("root@example.com", PASSWORD, "Root").await;
    let mut others = Vec::new();
    for i in 0..3 {
        others.push(
            p.sign_up(
                &format!("user{i}@example.com"),
                PASSWORD,
                &format!("User {i}"),
            )
            .await,
        );
    }
    for s in others.iter().chain([&admin]) {
        p.wait_for_user(s).await;
    }
    let list = "query($a: String) { users(first: 2, after: $a) { edges { cursor node { id email } } pageInfo { hasNextPage endCursor } } }";
    let denied = p
        .gql("identity", list, json!({}), Some(&others[0].access))
        .await;
    assert_eq!(denied.code(), Some("FORBIDDEN"));

    let page1 = p
        .gql("identity", list, json!({}), Some(&admin.access))
        .await
        .ok();
    assert_eq!(page1.data("users.edges").as_array().map(Vec::len), Some(2));
    assert_eq!(page1.data("users.pageInfo.hasNextPage"), true);
    let cursor = page1
        .data("users.pageInfo.endCursor")
        .as_str()
        .expect("cursor")
        .to_owned();
    let page2 = p
        .gql(
            "identity",
            list,
            json!({ "a": cursor }),
            Some(&admin.access),
        )
        .await
        .ok();
    assert_eq!(page2.data("users.edges").as_array().map(Vec::len), Some(2));
    assert_eq!(page2.data("users.pageInfo.hasNextPage"), false);
    let bad = p
        .gql(
            "identity",
            list,
            json!({ "a": "garbage" }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(bad.code(), Some("BAD_USER_INPUT"));
    p.shutdown().await;
}

#[tokio::test]
async fn hides_other_users_email_but_resolves_entities_in_one_batch() {
    let p = TestPlatform::start().await.expect("platform");
    let a = p.sign_up("kim@example.com", PASSWORD, "Kim").await;
    let b = p.sign_up("lee@example.com", PASSWORD, "Lee").await;
    p.wait_for_user(&a).await;
    p.wait_for_user(&b).await;

    let other = p
        .gql(
            "identity",
            "query($id: ID!) { user(id: $id) { displayName email } }",
            json!({ "id": b.user_id }),
            Some(&a.access),
        )
        .await;
    assert_eq!(other.code(), Some("FORBIDDEN"));

    let entities = p
        .gql(
            "identity",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id displayName } } }",
            json!({ "r": [
                { "__typename": "User", "id": a.user_id },
                { "__typename": "User", "id": b.user_id },
                { "__typename": "User", "id": "0190f5f0-0000-7000-8000-000000000000" },
            ] }),
            None,
        )
        .await
        .ok();
    assert_eq!(entities.data("_entities")[0]["displayName"], "Kim");
    assert_eq!(entities.data("_entities")[1]["displayName"], "Lee");
    assert!(entities.data("_entities")[2].is_null());
    p.shutdown().await;
}
