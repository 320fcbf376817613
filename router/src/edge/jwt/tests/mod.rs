//! Authenticator tests: keys generated here, JWKS served by an in-process server on port 0.

mod algorithms;
mod claims;
mod rotation;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use http::HeaderMap;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::traits::PublicKeyParts as _;
use serde_json::{Value, json};

use super::{Authenticator, JwtError, unix_now};
use crate::config::jwt::JwtConfig;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "api";

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl TestKey {
    /// An Ed25519 key derived from `seed`.
    fn ed25519(kid: &str, seed: u8) -> Self {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let der = signing
            .to_pkcs8_der()
            .expect("an Ed25519 key encodes as PKCS#8");
        let x = URL_SAFE_NO_PAD.encode(signing.verifying_key().to_bytes());
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(der.as_bytes()),
            jwk: json!({ "kty": "OKP", "crv": "Ed25519", "use": "sig", "kid": kid, "x": x }),
        }
    }

    /// The test process's RSA key (generated once: 2048-bit generation is slow).
    fn rsa(kid: &str) -> Self {
        let private = rsa_key();
        let der = private
            .to_pkcs1_der()
            .expect("an RSA key encodes as PKCS#1");
        let public = private.to_public_key();
        Self {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk: json!({
                "kty": "RSA",
                "kid": kid,
                "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            }),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("the test token signs")
    }
}

fn rsa_key() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generation")
    })
}

fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk.clone()).collect::<Vec<_>>() })
}

/// Claims valid for an hour, from the accepted issuer for the accepted audience.
fn claims() -> Value {
    json!({
        "sub": "user-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": unix_now() + 3600,
        "scope": "catalog:read orders:write",
        "org": { "id": 42, "name": "Acme" },
    })
}

/// `claims()` with some fields replaced.
fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    for (name, value) in changes.as_object().expect("changes are an object") {
        claims[name] = value.clone();
    }
    claims
}

/// A configuration with `sources`, the accepted issuer and audience, and `extra` on top.
fn config(sources: Value, extra: Value) -> JwtConfig {
    let mut config = json!({
        "sources": sources,
        "issuers": [ISSUER],
        "audiences": [AUDIENCE],
        "leeway_secs": 0,
    });
    for (name, value) in extra.as_object().expect("extra is an object") {
        config[name] = value.clone();
    }
    serde_json::from_value(config).expect("the test configuration is valid")
}

fn url_source(server: &JwksServer) -> Value {
    json!([{ "url": server.url, "timeout_ms": 2000 }])
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}")
            .parse()
            .expect("a token is a header value"),
    );
    headers
}

async fn authenticate(authenticator: &Authenticator, token: &str) -> Result<(), JwtError> {
    authenticator
        .authenticate(&bearer(token))
        .await
        .map(|identity| {
            assert!(identity.is_some(), "a verified token names a caller");
        })
}

/// Replaces the authenticator's clock with one the test moves.
fn manual_clock(authenticator: &mut Arc<Authenticator>) -> Arc<AtomicU64> {
    let now = Arc::new(AtomicU64::new(unix_now()));
    let read = Arc::clone(&now);
    Arc::get_mut(authenticator)
        .expect("the authenticator is not shared yet")
        .now = Box::new(move || read.load(Ordering::SeqCst));
    now
}

/// A JWKS endpoint that counts its fetches and can change its keys.
struct JwksServer {
    url: String,
    state: ServerState,
}

#[derive(Clone)]
struct ServerState {
    fetches: Arc<AtomicUsize>,
    jwks: Arc<Mutex<Value>>,
}

impl JwksServer {
    async fn start(keys: &[&TestKey]) -> Self {
        let state = ServerState {
            fetches: Arc::default(),
            jwks: Arc::new(Mutex::new(jwks(keys))),
        };
        let app = axum::Router::new()
            .route("/jwks.json", get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("a bound address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{address}/jwks.json"),
            state,
        }
    }

    fn rotate(&self, keys: &[&TestKey]) {
        *self.state.jwks.lock().expect("the JWKS lock") = jwks(keys);
    }

    fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}

async fn serve_jwks(State(state): State<ServerState>) -> Json<Value> {
    state.fetches.fetch_add(1, Ordering::SeqCst);
    Json(state.jwks.lock().expect("the JWKS lock").clone())
}

/// An authenticator reading `keys` from a JWKS URL, with `extra` configuration.
async fn served(keys: &[&TestKey], extra: Value) -> (Arc<Authenticator>, JwksServer) {
    let server = JwksServer::start(keys).await;
    let authenticator =
        Authenticator::new(&config(url_source(&server), extra)).expect("the authenticator builds");
    (authenticator, server)
}
