//! JWT checks at the router: every kind of bad token is refused with its own code, 401 and
//! `WWW-Authenticate`, before any subgraph is called; a good token reaches the subgraph.

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{Key, claims, jwks_file, jwt_config, now, post, router};

fn with(base: &Value, patch: Value) -> Value {
    let mut out = base.clone();
    for (k, v) in patch.as_object().expect("object") {
        out[k] = v.clone();
    }
    out
}

fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"));
    format!("{}.{}.{signature}", part(header), part(claims))
}

#[tokio::test]
async fn accepts_a_valid_token_and_forwards_it_to_the_subgraph() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "")).await;
    let token = key.sign(&claims("user-1", "users:read"));
    let bearer = format!("Bearer {token}");
    let answer = post(&router, "{ public }", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["data"]["public"], json!("hello"));
    let seen = subgraph.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization.as_deref(), Some(bearer.as_str()));

    // Without a token (not required), the request goes through anonymously.
    let answer = post(&router, "{ public }", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(subgraph.requests()[1].authorization, None);
}

#[tokio::test]
async fn reads_the_token_from_a_cookie_and_forwards_it_as_a_bearer_token() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "    cookie: access_token\n")).await;
    let token = key.sign(&claims("user-1", ""));
    let cookie = format!("theme=dark; access_token={token}");
    let answer = post(&router, "{ me { id } }", &[("cookie", &cookie)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["data"]["me"]["id"],
        json!("1"),
        "{}",
        answer.body
    );
    assert_eq!(
        subgraph.requests()[0].authorization.as_deref(),
        Some(format!("Bearer {token}").as_str())
    );
}

#[tokio::test]
async fn refuses_every_kind_of_bad_token_before_calling_a_subgraph() {
    let key = Key::new("k1", 1);
    let stranger = Key::new("k1", 2);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "    leeway_secs: 0\n")).await;
    let good = claims("user-1", "users:read");
    let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": "k1" });
    let real = key.sign(&good);
    let signature = real.rsplit('.').next().expect("signature");

    // HMAC with the public key as the secret: a verifier that let the token pick the
    // algorithm would accept it.
    let public = URL_SAFE_NO_PAD
        .decode(key.jwk()["x"].as_str().expect("x"))
        .expect("base64");
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some("k1".to_owned());
    let confused =
        jsonwebtoken::encode(&hs, &good, &EncodingKey::from_secret(&public)).expect("signs");

    let cases = [
        (
            key.sign(&with(
                &good,
                json!({ "iat": now() - 7200, "exp": now() - 60 }),
            )),
            "TOKEN_EXPIRED",
        ),
        (
            key.sign(&with(&good, json!({ "nbf": now() + 600 }))),
            "TOKEN_NOT_YET_VALID",
        ),
        (
            key.sign(&with(&good, json!({ "iss": "https://elsewhere.test" }))),
            "TOKEN_WRONG_ISSUER",
        ),
        (
            key.sign(&with(&good, json!({ "aud": "another-api" }))),
            "TOKEN_WRONG_AUDIENCE",
        ),
        // The payload changed, the signature did not.
        (
            assemble(
                &header,
                &with(&good, json!({ "scope": "admin" })),
                signature,
            ),
            "TOKEN_BAD_SIGNATURE",
        ),
        // Signed by another key under the same key id.
        (stranger.sign(&good), "TOKEN_BAD_SIGNATURE"),
        (
            assemble(
                &json!({ "alg": "none", "typ": "JWT", "kid": "k1" }),
                &good,
                "",
            ),
            "TOKEN_ALGORITHM_NOT_ALLOWED",
        ),
        (confused, "TOKEN_ALGORITHM_NOT_ALLOWED"),
        (Key::new("k9", 9).sign(&good), "TOKEN_UNKNOWN_KEY"),
        ("not-a-jwt".to_owned(), "TOKEN_MALFORMED"),
    ];
    for (token, code) in cases {
        let bearer = format!("Bearer {token}");
        let answer = post(&router, "{ public }", &[("authorization", &bearer)]).await;
        assert_eq!(
            (answer.status, answer.code()),
            (401, code),
            "{}",
            answer.body
        );
        assert!(answer.body.get("data").is_none(), "{}", answer.body);
        assert!(
            answer
                .headers
                .get("www-authenticate")
                .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Bearer")),
            "{code}: {:?}",
            answer.headers
        );
        assert!(
            !answer.body.to_string().contains(&token) || token.len() < 12,
            "the token is not echoed"
        );
    }
    assert_eq!(subgraph.count(), 0, "no subgraph was called");
}

#[tokio::test]
async fn refuses_a_missing_token_when_one_is_required() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "    required: true\n")).await;
    let answer = post(&router, "{ public }", &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "TOKEN_MISSING"),
        "{}",
        answer.body
    );
    let bearer = format!("Bearer {}", key.sign(&claims("u", "")));
    let answer = post(&router, "{ public }", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(subgraph.count(), 1);
}

#[tokio::test]
async fn picks_up_a_rotated_key_from_the_jwks_url_and_refuses_a_kid_still_unknown_after() {
    let old = Key::new("old", 1);
    let new = Key::new("new", 2);
    let published = std::sync::Arc::new(std::sync::Mutex::new(json!({ "keys": [old.jwk()] })));
    let fetches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (keys, count) = (published.clone(), fetches.clone());
    let app = Router::new().route(
        "/jwks.json",
        get(move || {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = keys.lock().expect("lock").to_string();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config = format!(
        "authentication:\n  jwt:\n    sources:\n      - url: {url}\n    issuers: [\"https://issuer.test\"]\n    audiences: [tessera]\n    min_refresh_interval_ms: 0\n"
    );
    let (router, _) = router(&config).await;

    let bearer = format!("Bearer {}", old.sign(&claims("u", "")));
    assert_eq!(
        post(&router, "{ public }", &[("authorization", &bearer)])
            .await
            .status,
        200
    );

    // The auth service rotates: the new key is published, and a token signed with it is
    // accepted after one more fetch.
    *published.lock().expect("lock") = json!({ "keys": [old.jwk(), new.jwk()] });
    let before = fetches.load(std::sync::atomic::Ordering::SeqCst);
    let bearer = format!("Bearer {}", new.sign(&claims("u", "")));
    let answer = post(&router, "{ public }", &[("authorization", &bearer)]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        fetches.load(std::sync::atomic::Ordering::SeqCst),
        before + 1
    );

    let bearer = format!("Bearer {}", Key::new("forged", 3).sign(&claims("u", "")));
    let answer = post(&router, "{ public }", &[("authorization", &bearer)]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "TOKEN_UNKNOWN_KEY"),
        "{}",
        answer.body
    );
}
