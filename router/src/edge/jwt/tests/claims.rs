//! Valid tokens, the claims they must carry, and where the token is found.

use serde_json::json;

use super::*;

#[tokio::test]
async fn accepts_a_valid_eddsa_token_with_readable_claims_and_scopes() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims());

    let identity = authenticator
        .authenticate(&bearer(&token))
        .await
        .expect("the token is valid")
        .expect("a token names a caller");

    assert_eq!(&*identity.token, token);
    assert_eq!(identity.claim("sub").as_deref(), Some("user-1"));
    assert_eq!(identity.claim("org.id").as_deref(), Some("42"));
    assert_eq!(identity.claim("org.name").as_deref(), Some("Acme"));
    assert_eq!(identity.claim("org"), None);
    assert_eq!(identity.claim("org.missing"), None);
    assert_eq!(
        identity.scopes().collect::<Vec<_>>(),
        ["catalog:read", "orders:write"]
    );
    let printed = format!("{identity:?}");
    assert!(!printed.contains(&token), "Debug never prints the token");
}

#[tokio::test]
async fn accepts_an_rs256_token() {
    let key = TestKey::rsa("rsa-1");
    let (authenticator, _server) = served(&[&key], json!({})).await;

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Ok(())
    );
}

#[tokio::test]
async fn reads_scopes_from_an_scp_array_and_namespaced_claims() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let mut claims = claims();
    claims
        .as_object_mut()
        .expect("claims are an object")
        .remove("scope");
    claims["scp"] = json!(["a", "b"]);
    claims["https://example.com/admin"] = json!(true);

    let identity = authenticator
        .authenticate(&bearer(&key.sign(&claims)))
        .await
        .expect("the token is valid")
        .expect("a token names a caller");

    assert_eq!(identity.scopes().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(
        identity.claim("https://example.com/admin").as_deref(),
        Some("true")
    );
}

#[tokio::test]
async fn rejects_an_expired_token() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims_with(json!({ "exp": unix_now() - 10 })));

    assert_eq!(
        authenticate(&authenticator, &token).await,
        Err(JwtError::Expired)
    );
}

#[tokio::test]
async fn rejects_a_token_without_exp_as_malformed() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let mut claims = claims();
    claims
        .as_object_mut()
        .expect("claims are an object")
        .remove("exp");

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims)).await,
        Err(JwtError::Malformed)
    );
}

#[tokio::test]
async fn rejects_a_token_not_yet_valid() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims_with(json!({ "nbf": unix_now() + 600 })));

    assert_eq!(
        authenticate(&authenticator, &token).await,
        Err(JwtError::NotYetValid)
    );
}

#[tokio::test]
async fn leeway_accepts_a_token_just_expired() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({ "leeway_secs": 30 })).await;
    let token = key.sign(&claims_with(json!({ "exp": unix_now() - 5 })));

    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
}

#[tokio::test]
async fn rejects_a_token_from_another_issuer() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims_with(json!({ "iss": "https://elsewhere.test" })));

    assert_eq!(
        authenticate(&authenticator, &token).await,
        Err(JwtError::WrongIssuer)
    );
}

#[tokio::test]
async fn rejects_a_token_for_another_audience() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let single = key.sign(&claims_with(json!({ "aud": "billing" })));
    let listed = key.sign(&claims_with(json!({ "aud": ["billing", "mail"] })));

    assert_eq!(
        authenticate(&authenticator, &single).await,
        Err(JwtError::WrongAudience)
    );
    assert_eq!(
        authenticate(&authenticator, &listed).await,
        Err(JwtError::WrongAudience)
    );
}

#[tokio::test]
async fn accepts_an_audience_array_naming_the_accepted_audience() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims_with(json!({ "aud": ["billing", AUDIENCE] })));

    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
}

#[tokio::test]
async fn reads_the_token_from_a_cookie_when_the_header_is_absent() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({ "cookie": "access_token" })).await;
    let token = key.sign(&claims());
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::COOKIE,
        format!("theme=dark; access_token={token}; lang=en")
            .parse()
            .expect("a cookie header"),
    );

    let identity = authenticator.authenticate(&headers).await;
    assert!(matches!(identity, Ok(Some(_))), "{identity:?}");

    headers.insert(
        http::header::AUTHORIZATION,
        "Basic dXNlcjpwYXNz".parse().expect("a header"),
    );
    assert_eq!(
        authenticator.authenticate(&headers).await.map(|_| ()),
        Err(JwtError::Malformed),
        "the header wins over the cookie"
    );
}

#[tokio::test]
async fn rejects_a_header_without_the_bearer_prefix_as_malformed() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims());
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        token.parse().expect("a header"),
    );

    assert_eq!(
        authenticator.authenticate(&headers).await.map(|_| ()),
        Err(JwtError::Malformed)
    );
    let lower = format!("bearer   {token}");
    headers.insert(
        http::header::AUTHORIZATION,
        lower.parse().expect("a header"),
    );
    assert!(
        matches!(authenticator.authenticate(&headers).await, Ok(Some(_))),
        "the scheme matches case-insensitively"
    );
}

#[tokio::test]
async fn rejects_a_missing_token_when_required() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({ "required": true })).await;

    assert_eq!(
        authenticator
            .authenticate(&HeaderMap::new())
            .await
            .map(|_| ()),
        Err(JwtError::Missing)
    );
}

#[tokio::test]
async fn lets_a_request_without_token_through_when_not_required() {
    fn shareable<T: Send + Sync>(_: &T) {}
    fn sendable<T: Send>(future: T) -> T {
        future
    }
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, server) = served(&[&key], json!({})).await;
    shareable(&authenticator);

    let identity = sendable(authenticator.authenticate(&HeaderMap::new())).await;
    assert!(matches!(identity, Ok(None)), "{identity:?}");
    assert_eq!(server.fetches(), 0);
}

#[test]
fn every_error_declares_its_code_and_status() {
    use http::StatusCode;
    let all = [
        (JwtError::Missing, "TOKEN_MISSING"),
        (JwtError::Malformed, "TOKEN_MALFORMED"),
        (JwtError::AlgorithmNotAllowed, "TOKEN_ALGORITHM_NOT_ALLOWED"),
        (JwtError::UnknownKey, "TOKEN_UNKNOWN_KEY"),
        (JwtError::Expired, "TOKEN_EXPIRED"),
        (JwtError::NotYetValid, "TOKEN_NOT_YET_VALID"),
        (JwtError::WrongIssuer, "TOKEN_WRONG_ISSUER"),
        (JwtError::WrongAudience, "TOKEN_WRONG_AUDIENCE"),
        (JwtError::BadSignature, "TOKEN_BAD_SIGNATURE"),
        (JwtError::KeysUnavailable, "JWKS_UNAVAILABLE"),
    ];
    for (error, code) in all {
        assert_eq!(error.code(), code);
        let expected = if error == JwtError::KeysUnavailable {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        };
        assert_eq!(error.status(), expected, "{code}");
        assert_eq!(error.to_string(), error.message());
    }
}
