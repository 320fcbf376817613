//! Access tokens as the subgraphs see them: every kind of bad token is refused with
//! UNAUTHENTICATED and 401; key rotation never invalidates a live token.

use std::time::Duration;

use serde_json::{Value, json};
use tessera_tests::{TestPlatform, tokens};

const PASSWORD: &str = "correct horse battery";

async fn me(p: &TestPlatform, token: &str) -> tessera_tests::Gql {
    p.query("identity", "{ me { id } }", Some(token)).await
}

fn assert_refused(r: &tessera_tests::Gql, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", r.body);
    assert_eq!(r.code(), Some("UNAUTHENTICATED"), "{why}: {}", r.body);
}

#[tokio::test]
async fn refuses_expired_tampered_and_misaddressed_tokens() {
    let p = TestPlatform::start().await.expect("platform");
    let s = p.registered("max@example.com", PASSWORD, "Max").await;
    let auth = p.db.pool("auth").await.expect("pool");
    let real = tokens::claims(&s.access);
    let now = chrono::Utc::now().timestamp();

    let with = |patch: Value| {
        let mut c = real.clone();
        for (k, v) in patch.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    // The forged token with the real claims works: the variations below differ in one way only.
    me(&p, &tokens::sign(&auth, &real).await.expect("sign"))
        .await
        .ok();

    let expired = tokens::sign(&auth, &with(json!({ "iat": now - 3600, "exp": now - 600 })))
        .await
        .expect("sign");
    assert_refused(&me(&p, &expired).await, "expired");
    let future = tokens::sign(&auth, &with(json!({ "nbf": now + 600 })))
        .await
        .expect("sign");
    assert_refused(&me(&p, &future).await, "not yet valid");
    let issuer = tokens::sign(&auth, &with(json!({ "iss": "someone-else" })))
        .await
        .expect("sign");
    assert_refused(&me(&p, &issuer).await, "wrong issuer");
    let audience = tokens::sign(&auth, &with(json!({ "aud": "other-api" })))
        .await
        .expect("sign");
    assert_refused(&me(&p, &audience).await, "wrong audience");

    // Tampering: the payload changes, the signature stays.
    let header = tokens::header(&s.access);
    let signature = s.access.rsplit('.').next().expect("signature");
    let tampered = tokens::assemble(&header, &with(json!({ "scope": "users:read" })), signature);
    assert_refused(&me(&p, &tampered).await, "tampered");

    // alg: none, with and without a signature.
    let none = tokens::assemble(
        &json!({ "alg": "none", "typ": "JWT", "kid": header["kid"] }),
        &real,
        "",
    );
    assert_refused(&me(&p, &none).await, "alg none");

    // HMAC with the public key as the secret (algorithm confusion).
    let jwks: Value = p
        .http
        .get(p.url("auth", "/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let public = jwks["keys"][0]["x"].as_str().expect("x").to_owned();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_owned);
    let confused = jsonwebtoken::encode(
        &hs,
        &real,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("hs256");
    assert_refused(&me(&p, &confused).await, "HS256 confusion");

    // A key nobody published.
    let mut unknown = header.clone();
    unknown["kid"] = json!("not-a-published-key");
    let unknown_kid = tokens::assemble(&unknown, &real, signature);
    assert_refused(&me(&p, &unknown_kid).await, "unknown kid");

    assert_refused(&me(&p, "garbage").await, "not a JWT");
    p.shutdown().await;
}

#[tokio::test]
async fn a_token_expires_on_time() {
    let p = TestPlatform::builder()
        .access_token_ttl(1)
        .start()
        .await
        .expect("platform");
    let s = p.sign_up("nia@example.com", PASSWORD, "Nia").await;
    // Leeway is 5 s: the token is refused once exp + leeway has passed.
    let refused = tessera_tests::eventually(Duration::from_secs(15), || async {
        let r = me(&p, &s.access).await;
        (r.status == 401).then_some(r)
    })
    .await
    .expect("the token expires");
    assert_eq!(refused.code(), Some("UNAUTHENTICATED"));
    assert!(
        refused.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("expired")
    );
    p.shutdown().await;
}

#[tokio::test]
async fn key_rotation_keeps_live_tokens_valid_and_new_tokens_use_the_new_key() {
    let p = TestPlatform::builder()
        .key_reload(1)
        .start()
        .await
        .expect("platform");
    let s = p.registered("omar@example.com", PASSWORD, "Omar").await;
    let old_kid = tokens::header(&s.access)["kid"].clone();

    let auth = p.db.pool("auth").await.expect("pool");
    // Another auth instance, with a pool (and statement counters) of its own.
    let pool = tessera_kit::db::Db::new(auth.clone(), tessera_kit::db::Statements::new("auth"));
    let ring = tessera_auth::domain::keys::KeyRing::load(pool, Duration::from_secs(960))
        .await
        .expect("ring");
    let new_kid = ring.rotate().await.expect("rotate");
    assert_ne!(json!(new_kid), old_kid);

    // The running auth instance learns of the rotation on its next reload, as any other
    // instance would.
    let fresh = tessera_tests::eventually(Duration::from_secs(20), || async {
        let r = p.login("omar@example.com", PASSWORD).await.ok();
        let session = TestPlatform::session_of(&r, "login");
        (tokens::header(&session.access)["kid"] == json!(new_kid)).then_some(session)
    })
    .await;
    let fresh = fresh.expect("auth signs with the rotated key");
    // Identity has never seen the new kid: it refetches the JWKS and accepts the token.
    me(&p, &fresh.access).await.ok();
    // The token signed before the rotation still verifies.
    me(&p, &s.access).await.ok();
    let jwks: Value = p
        .http
        .get(p.url("auth", "/.well-known/jwks.json"))
        .send()
        .await
        .expect("jwks")
        .json()
        .await
        .expect("json");
    let kids: Vec<&Value> = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert!(
        kids.contains(&&old_kid) && kids.contains(&&json!(new_kid)),
        "{jwks}"
    );
    p.shutdown().await;
}
