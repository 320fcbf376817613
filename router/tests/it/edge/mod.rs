//! The router's edge, through the router: authentication, authorization directives, rate
//! limits, CSRF/CORS, the overall timeout and hot reload. Each rejection is checked for its
//! code and status, and for not reaching the subgraph.

mod authentication;
mod authorization;
mod compression;
mod connections;
mod documents;
mod graphql_http;
mod headers;
mod rate_limits;
mod reload;
mod tls;
mod transport;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

/// A subgraph with every kind of authorization directive.
pub const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes", "@policy"])
type Query {
  public: String
  me: User @authenticated
  users: [User] @requiresScopes(scopes: [["users:read"]])
  secret: String @policy(policies: [["admin"]])
  vault: Vault
}
type User @key(fields: "id") { id: ID! name: String email: String @requiresScopes(scopes: [["email:read"], ["users:read"]]) }
type Vault @authenticated { code: String }"#;

/// Everything the subgraph can answer; the router picks what was asked.
const DATA: &str = r#"{"data":{"public":"hello","extra":"new","me":{"id":"1","name":"Ann","email":"ann@example.com"},"users":[{"id":"1","name":"Ann","email":"ann@example.com"},{"id":"2","name":"Bo","email":"bo@example.com"}],"secret":"42","vault":{"code":"1234"}}}"#;

/// What the subgraph saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub query: String,
    pub authorization: Option<String>,
}

#[derive(Clone, Default)]
pub struct Subgraph {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// How long each answer takes.
    pub delay: Arc<Mutex<Duration>>,
}

impl Subgraph {
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }
}

async fn answer(
    State(s): State<Subgraph>,
    headers: HeaderMap,
    body: String,
) -> impl axum::response::IntoResponse {
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    s.seen.lock().expect("lock").push(Seen {
        query: body["query"].as_str().unwrap_or_default().to_owned(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    });
    let delay = *s.delay.lock().expect("lock");
    tokio::time::sleep(delay).await;
    ([("content-type", "application/json")], DATA)
}

/// Serves the subgraph and returns its URL.
pub async fn subgraph() -> (Subgraph, String) {
    let state = Subgraph::default();
    let app = Router::new()
        .route("/graphql", axum::routing::post(answer))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/graphql", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (state, url)
}

/// The supergraph of the test subgraph at `url`.
pub fn supergraph(url: &str) -> String {
    supergraph_of(url, SDL)
}

/// The supergraph of a subgraph with `sdl` at `url`.
pub fn supergraph_of(url: &str, sdl: &str) -> String {
    crate::compose_one("main", url, sdl)
}

/// A router over the test subgraph with `config` (YAML, `SUBGRAPH_URL` standing for the
/// subgraph's URL).
pub async fn router(config: &str) -> (RouterServer, Subgraph) {
    let (subgraph, url) = subgraph().await;
    let config = GatewayConfig::parse(&config.replace("SUBGRAPH_URL", &url)).expect("valid config");
    let router = serve(&supergraph(&url), config).await.expect("router");
    (router, subgraph)
}

/// Serves `supergraph` with `config` on a free port.
pub async fn serve(supergraph: &str, config: GatewayConfig) -> anyhow::Result<RouterServer> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    RouterServer::start(listener, supergraph, config).await
}

/// A response: status, headers, JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
    }
}

/// POSTs `query` with extra `headers`, asking for `application/graphql-response+json`.
pub async fn post(router: &RouterServer, query: &str, headers: &[(&str, &str)]) -> Answer {
    post_body(router, &json!({ "query": query }), headers).await
}

/// Posts a GraphQL request `body` (query, variables) with `headers`.
pub async fn post_body(router: &RouterServer, body: &Value, headers: &[(&str, &str)]) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "application/graphql-response+json")
        .json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// An Ed25519 signing key with its key id, and the JWKS that publishes it.
pub struct Key {
    pub kid: String,
    signing: SigningKey,
}

impl Key {
    pub fn new(kid: &str, seed: u8) -> Self {
        Self {
            kid: kid.to_owned(),
            signing: SigningKey::from_bytes(&[seed; 32]),
        }
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.signing.verifying_key().as_bytes()),
        })
    }

    /// Signs `claims` (EdDSA, with this key's id).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let der = self.signing.to_pkcs8_der().expect("PKCS#8");
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(der.as_bytes()))
            .expect("signs")
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Claims valid for an hour, with `scope`.
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({
        "sub": sub,
        "iss": "https://issuer.test",
        "aud": "tessera",
        "iat": now(),
        "exp": now() + 3600,
        "scope": scope,
    })
}

/// Writes `jwks` to a fresh file and returns its path.
pub fn jwks_file(keys: &[&Key]) -> tempfile_path::TempPath {
    let jwks = json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() });
    tempfile_path::write(&serde_json::to_string(&jwks).expect("JSON"))
}

/// The `authentication` section for a JWKS file.
pub fn jwt_config(jwks: &std::path::Path, extra: &str) -> String {
    format!(
        "authentication:\n  jwt:\n    sources:\n      - file: {}\n    issuers: [\"https://issuer.test\"]\n    audiences: [tessera]\n{extra}",
        jwks.display()
    )
}

/// Unique temporary files, removed on drop.
pub mod tempfile_path {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicUsize, Ordering};

    static NEXT: AtomicUsize = AtomicUsize::new(0);

    pub struct TempPath(PathBuf);

    impl TempPath {
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    /// A new file holding `text`.
    pub fn write(text: &str) -> TempPath {
        let path = std::env::temp_dir().join(format!(
            "tessera-router-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, text).expect("temp file");
        TempPath(path)
    }
}
