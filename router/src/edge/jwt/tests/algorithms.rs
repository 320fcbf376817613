//! Signatures and algorithms: the key, not the token, decides how a token is verified.

use rsa::pkcs8::EncodePublicKey as _;
use serde_json::json;

use super::*;

/// A token with the given header and claims and an arbitrary signature.
fn forged(header: &Value, claims: &Value, signature: &str) -> String {
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.{signature}", part(header), part(claims))
}

#[tokio::test]
async fn rejects_a_tampered_payload_as_bad_signature() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, _server) = served(&[&key], json!({})).await;
    let token = key.sign(&claims());
    let mut parts = token.split('.');
    let (header, _, signature) = (parts.next(), parts.next(), parts.next());
    let payload = URL_SAFE_NO_PAD.encode(claims_with(json!({ "sub": "admin" })).to_string());
    let tampered = format!(
        "{}.{payload}.{}",
        header.expect("a header"),
        signature.expect("a signature")
    );

    assert_eq!(
        authenticate(&authenticator, &tampered).await,
        Err(JwtError::BadSignature)
    );
}

#[tokio::test]
async fn rejects_a_token_signed_by_another_key_with_the_same_kid() {
    let key = TestKey::ed25519("ed-1", 1);
    let impostor = TestKey::ed25519("ed-1", 2);
    let (authenticator, _server) = served(&[&key], json!({})).await;

    assert_eq!(
        authenticate(&authenticator, &impostor.sign(&claims())).await,
        Err(JwtError::BadSignature)
    );
}

#[tokio::test]
async fn rejects_alg_none_before_looking_up_a_key() {
    let key = TestKey::ed25519("ed-1", 1);
    let (authenticator, server) = served(&[&key], json!({})).await;

    for alg in ["none", "None", "NONE"] {
        let token = forged(&json!({ "alg": alg, "kid": "ed-1" }), &claims(), "");
        assert_eq!(
            authenticate(&authenticator, &token).await,
            Err(JwtError::AlgorithmNotAllowed),
            "{alg}"
        );
    }
    assert_eq!(server.fetches(), 0, "no key was looked up");
}

#[tokio::test]
async fn rejects_hs256_signed_with_the_rsa_public_key_as_secret() {
    let key = TestKey::rsa("rsa-1");
    // HS256 is even accepted here, for HMAC keys: the RSA key must still refuse it.
    let (authenticator, _server) =
        served(&[&key], json!({ "algorithms": ["RS256", "HS256"] })).await;
    let pem = rsa_key()
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .expect("the public key encodes as PEM");
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    for secret in [pem.as_bytes(), key.jwk["n"].as_str().expect("n").as_bytes()] {
        let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(secret))
            .expect("an HMAC token signs");
        assert_eq!(
            authenticate(&authenticator, &token).await,
            Err(JwtError::AlgorithmNotAllowed)
        );
    }
}

#[tokio::test]
async fn rejects_an_algorithm_not_in_the_allowed_list() {
    let key = TestKey::rsa("rsa-1");
    let (authenticator, server) = served(&[&key], json!({ "algorithms": ["EdDSA"] })).await;

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Err(JwtError::AlgorithmNotAllowed)
    );
    assert_eq!(server.fetches(), 0, "refused before any key lookup");
}

#[tokio::test]
async fn rejects_an_algorithm_other_than_the_one_the_jwk_names() {
    let mut key = TestKey::rsa("rsa-1");
    key.jwk["alg"] = json!("RS256");
    let (authenticator, _server) = served(&[&key], json!({})).await;
    key.alg = Algorithm::PS256;

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Err(JwtError::AlgorithmNotAllowed)
    );
}

#[tokio::test]
async fn verifies_a_token_without_kid_against_every_key_fitting_its_algorithm() {
    let first = TestKey::ed25519("ed-1", 1);
    let second = TestKey::ed25519("ed-2", 2);
    let rsa = TestKey::rsa("rsa-1");
    let (authenticator, _server) = served(&[&first, &second, &rsa], json!({})).await;
    let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims(), &second.encoding)
        .expect("the test token signs");

    assert_eq!(authenticate(&authenticator, &token).await, Ok(()));
}

#[tokio::test]
async fn skips_unusable_jwks_entries_and_keeps_the_others() {
    let key = TestKey::ed25519("ed-1", 1);
    let server = JwksServer::start(&[]).await;
    *server.state.jwks.lock().expect("the JWKS lock") = json!({ "keys": [
        { "kty": "RSA", "kid": "weak", "n": URL_SAFE_NO_PAD.encode([0xc5u8; 64]), "e": "AQAB" },
        { "kty": "OKP", "crv": "Ed25519", "kid": "short", "x": "AAAA" },
        { "kty": "OKP", "crv": "Ed25519", "kid": "enc", "use": "enc", "x": key.jwk["x"] },
        { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
        { "kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA" },
        key.jwk,
    ]});
    let authenticator = Authenticator::new(&config(url_source(&server), json!({})))
        .expect("the authenticator builds");

    assert_eq!(
        authenticate(&authenticator, &key.sign(&claims())).await,
        Ok(())
    );
    assert_eq!(authenticator.keys.load().len(), 1);
}
