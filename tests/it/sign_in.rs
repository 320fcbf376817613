//! Signing up, logging in and refreshing through the router: the tokens and the user they
//! belong to in one response, with the user's private fields, whatever the latency of the
//! registration projection (ADR 0015).

use serde_json::{Value, json};
use tessera_tests::{Broker, TestPlatform, tokens};

const PASSWORD: &str = "correct horse battery";
const SIGN_UP: &str = "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken \
    user { id email displayName emailVerified } } }";
const LOGIN: &str = "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken \
    user { id email displayName } } }";
const REFRESH: &str =
    "mutation($t: String!) { refreshToken(token: $t) { accessToken user { id email } } }";

/// A token with auth's genuine signature, issued `age_secs` ago, for a subject identity never
/// hears of (a registration whose projection never arrives).
async fn token_of_a_user_identity_never_gets(p: &TestPlatform, age_secs: i64) -> String {
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let auth = p.db.pool("auth").await.expect("pool");
    let mut claims = tokens::claims(&ada.access);
    claims["sub"] = json!(uuid::Uuid::now_v7().to_string());
    claims["iat"] = json!(chrono::Utc::now().timestamp() - age_secs);
    tokens::sign(&auth, &claims).await.expect("sign")
}

/// Signs `email` up through the router and checks the whole answer; returns the payload.
async fn sign_up_through_the_router(p: &TestPlatform, email: &str, name: &str) -> Value {
    let r = p
        .gql(
            "router",
            SIGN_UP,
            json!({ "i": { "email": email, "password": PASSWORD, "displayName": name } }),
            None,
        )
        .await;
    assert!(r.body.get("errors").is_none(), "no errors: {}", r.body);
    let payload = r.data("signUp").clone();
    let access = payload["accessToken"].as_str().expect("an access token");
    assert_eq!(
        payload["user"],
        json!({
            "id": tokens::claims(access)["sub"],
            "email": email,
            "displayName": name,
            "emailVerified": false,
        }),
        "{payload}"
    );
    payload
}

#[tokio::test]
async fn sign_up_login_and_refresh_answer_the_user_with_its_private_fields() {
    let p = TestPlatform::start().await.expect("platform");
    let signed_up = sign_up_through_the_router(&p, "ada@example.com", "Ada").await;
    let id = signed_up["user"]["id"].clone();

    let login = p
        .gql(
            "router",
            LOGIN,
            json!({ "i": { "email": "ada@example.com", "password": PASSWORD } }),
            None,
        )
        .await
        .ok();
    assert_eq!(
        login.data("login.user"),
        &json!({ "id": id, "email": "ada@example.com", "displayName": "Ada" })
    );

    let refreshed = p
        .gql(
            "router",
            REFRESH,
            json!({ "t": login.data("login.refreshToken") }),
            None,
        )
        .await
        .ok();
    assert_eq!(
        refreshed.data("refreshToken.user"),
        &json!({ "id": id, "email": "ada@example.com" })
    );
    p.shutdown().await;
}

#[tokio::test]
async fn sign_up_through_the_router_waits_for_the_projection_over_a_broker() {
    // Over Kafka the user reaches identity a relay poll and a consumer after auth's commit:
    // far later than the router asks identity for it within the same request.
    let broker = Broker::start().await.expect("broker");
    let p = TestPlatform::with_broker(&broker).await.expect("platform");
    for (email, name) in [("bo@example.com", "Bo"), ("cy@example.com", "Cy")] {
        sign_up_through_the_router(&p, email, name).await;
    }
    // Signed up at auth itself, then asked at once who they are: `me` waits for the projection
    // too, rather than answering null.
    let dee = p.sign_up("dee@example.com", PASSWORD, "Dee").await;
    let me = p
        .query("identity", "{ me { id displayName } }", Some(&dee.access))
        .await
        .ok();
    assert_eq!(
        me.data("me"),
        &json!({ "id": dee.user_id, "displayName": "Dee" })
    );
    p.shutdown().await;
}

#[tokio::test]
async fn the_private_fields_are_the_token_subjects_only() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p.registered("ada@example.com", PASSWORD, "Ada").await;
    let bob = p.registered("bob@example.com", PASSWORD, "Bob").await;
    let entities = "query($r: [_Any!]!) { _entities(representations: $r) { \
        ... on AuthPayload { user { id email } } } }";
    let as_payload =
        |token: &str| json!({ "r": [{ "__typename": "AuthPayload", "accessToken": token }] });

    // Asked with Ada's token as the key and Bob's in the header: the key decides whose user it
    // is and who sees it; Bob's header gains nothing.
    let r = p
        .gql(
            "identity",
            entities,
            as_payload(&ada.access),
            Some(&bob.access),
        )
        .await
        .ok();
    assert_eq!(
        r.data("_entities")[0]["user"],
        json!({ "id": ada.user_id, "email": "ada@example.com" })
    );

    // A key that is not a token that verifies is refused, and shows no user.
    let mut forged = ada.access.clone();
    forged.pop();
    let r = p.gql("identity", entities, as_payload(&forged), None).await;
    assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{}", r.body);
    assert_eq!(r.body["data"]["_entities"][0], Value::Null, "{}", r.body);
    p.shutdown().await;
}

#[tokio::test]
async fn a_token_whose_user_never_arrives_fails_with_registration_pending() {
    let p = TestPlatform::start().await.expect("platform");
    // Issued long enough ago that no projection is still on its way: the answer comes at once.
    let stranger = token_of_a_user_identity_never_gets(&p, 120).await;
    let started = std::time::Instant::now();
    let r = p
        .gql(
            "identity",
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on AuthPayload { user { id } } } }",
            json!({ "r": [{ "__typename": "AuthPayload", "accessToken": stranger }] }),
            None,
        )
        .await;
    assert_eq!(r.code(), Some("REGISTRATION_PENDING"), "{}", r.body);
    let me = p.query("identity", "{ me { id } }", Some(&stranger)).await;
    assert_eq!(me.code(), Some("REGISTRATION_PENDING"), "{}", me.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "an old token does not wait out the 5 s window: {:?}",
        started.elapsed()
    );
    p.shutdown().await;
}

#[tokio::test]
async fn callers_waiting_for_one_user_share_one_look_for_it() {
    let p = TestPlatform::start().await.expect("platform");
    // Fresh: every `me` in the query waits the whole window for its user.
    let pending = token_of_a_user_identity_never_gets(&p, 0).await;
    let series = "tessera_db_statements_total{service=\"identity\",origin=\"request\"}";
    let before = p.metric("identity", series).await.unwrap_or(0);
    let aliases: String = (0..10).map(|i| format!("m{i}: me {{ id }} ")).collect();
    let r = p
        .query("identity", &format!("{{ {aliases} }}"), Some(&pending))
        .await;
    let errors = r.body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 10, "{}", r.body);
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "REGISTRATION_PENDING"),
        "{}",
        r.body
    );
    // One wait looks about 60 times in its window (pauses doubling from 5 ms to 100 ms); ten
    // waits of their own would look about 600 times.
    let looks = p.metric("identity", series).await.unwrap_or(0) - before;
    assert!(looks < 150, "identity looked {looks} times for one user");
    p.shutdown().await;
}
