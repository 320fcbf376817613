//! The platform under test, started in-process on free ports against a private database, and a
//! GraphQL client that speaks to it over HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::platform::{Platform, PlatformOptions};
use tessera_kit::config::{KafkaConfig, RedisConfig, Secret};

use crate::TestDb;

/// A running platform with its own database and mailbox.
pub struct TestPlatform {
    pub platform: Platform,
    pub db: TestDb,
    pub mailbox: PathBuf,
    pub http: reqwest::Client,
    pub options: PlatformOptions,
}

/// How to start a [`TestPlatform`].
#[derive(Default)]
pub struct Builder {
    redis: bool,
    kafka: Option<String>,
    admin_emails: Vec<String>,
    access_token_ttl_secs: Option<u64>,
    key_reload_secs: Option<u64>,
    login_throttle: Option<tessera_auth::ThrottleConfig>,
    billing_renewal_interval_ms: Option<u64>,
    blog_batch_delay_ms: Option<u64>,
    dev_gateway: bool,
    trusted_proxies: Vec<String>,
}

/// The router configuration `tessera dev` reads, from the workspace root.
pub const DEV_GATEWAY_CONFIG: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway-config/dev.yaml");

impl Builder {
    /// Use the Redis the suite is pointed at (`TESSERA_TEST_REDIS_URL`, default local).
    pub fn redis(mut self) -> Self {
        self.redis = true;
        self
    }

    /// Use a Kafka-protocol broker.
    pub fn kafka(mut self, bootstrap: String) -> Self {
        self.kafka = Some(bootstrap);
        self
    }

    pub fn admin(mut self, email: &str) -> Self {
        self.admin_emails.push(email.to_owned());
        self
    }

    pub fn access_token_ttl(mut self, secs: u64) -> Self {
        self.access_token_ttl_secs = Some(secs);
        self
    }

    pub fn login_throttle(mut self, throttle: tessera_auth::ThrottleConfig) -> Self {
        self.login_throttle = Some(throttle);
        self
    }

    pub fn key_reload(mut self, secs: u64) -> Self {
        self.key_reload_secs = Some(secs);
        self
    }

    /// Runs billing's renewal job every `ms` milliseconds.
    pub fn billing_renewal_interval(mut self, ms: u64) -> Self {
        self.billing_renewal_interval_ms = Some(ms);
        self
    }

    /// How long blog's batch loaders gather keys, in milliseconds.
    pub fn blog_batch_delay(mut self, ms: u64) -> Self {
        self.blog_batch_delay_ms = Some(ms);
        self
    }

    /// Proxies whose `X-Forwarded-For` the router believes.
    pub fn trusted_proxies(mut self, proxies: &[&str]) -> Self {
        self.trusted_proxies = proxies.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// Configures the router from `gateway-config/dev.yaml`, as `tessera dev` does (its
    /// subgraph URLs give way to the running subgraphs', there as here).
    pub fn dev_gateway(mut self) -> Self {
        self.dev_gateway = true;
        self
    }

    pub async fn start(self) -> anyhow::Result<TestPlatform> {
        // Logs show up in the output of a failing test.
        tessera_kit::telemetry::init(tessera_kit::telemetry::LogFormat::Pretty);
        let db = TestDb::create().await?;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let mailbox = std::env::temp_dir().join(format!("tessera-mailbox-{run}"));
        let mut options = PlatformOptions::ephemeral(db.url.clone());
        options.mailbox_dir = mailbox.clone();
        options.admin_emails = self.admin_emails;
        options.access_token_ttl_secs = self.access_token_ttl_secs;
        options.key_reload_secs = self.key_reload_secs;
        options.login_throttle = self.login_throttle;
        options.billing_renewal_interval_ms = self.billing_renewal_interval_ms;
        options.blog_batch_delay_ms = self.blog_batch_delay_ms;
        if self.dev_gateway {
            options.gateway = tessera_router::config::GatewayConfig::load(std::path::Path::new(
                DEV_GATEWAY_CONFIG,
            ))?;
        }
        options.gateway.server.trusted_proxies = self.trusted_proxies;
        if self.redis {
            let url = std::env::var("TESSERA_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
            options.redis = Some(RedisConfig {
                url: Secret::new(url),
                key_prefix: format!("test-{run}"),
            });
        }
        if let Some(brokers) = self.kafka {
            options.kafka = Some(KafkaConfig {
                brokers,
                topic_prefix: format!("test-{run}."),
                publish_timeout_ms: 3_000,
            });
        }
        let platform = Platform::start(&options).await?;
        Ok(TestPlatform {
            platform,
            db,
            mailbox,
            http: reqwest::Client::new(),
            options,
        })
    }
}

/// A GraphQL response: the HTTP status and the JSON body.
#[derive(Debug, Clone)]
pub struct Gql {
    pub status: StatusCode,
    pub body: Value,
}

impl Gql {
    /// `data.<path>` (dot-separated).
    pub fn data(&self, path: &str) -> &Value {
        path.split('.').fold(&self.body["data"], |v, key| &v[key])
    }

    /// The `extensions.code` of the first error.
    pub fn code(&self) -> Option<&str> {
        self.body["errors"][0]["extensions"]["code"].as_str()
    }

    /// Panics with the body unless there are no errors.
    pub fn ok(self) -> Self {
        assert!(
            self.body.get("errors").is_none(),
            "unexpected errors: {}",
            self.body
        );
        self
    }
}

/// Tokens from a sign-in.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
}

/// Sign-up and login as sent to auth itself, which issues the tokens; the user behind them is
/// identity's (`AuthPayload.user`, through the router), so the user id is read from the token.
pub const SIGN_UP: &str =
    "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken refreshToken expiresIn } }";
pub const LOGIN: &str =
    "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken expiresIn } }";

impl TestPlatform {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The in-process defaults: no Redis, no broker.
    pub async fn start() -> anyhow::Result<Self> {
        Builder::default().start().await
    }

    pub fn addr(&self, service: &str) -> SocketAddr {
        self.platform
            .address(service)
            .unwrap_or_else(|| panic!("no service {service}"))
    }

    pub fn url(&self, service: &str, path: &str) -> String {
        format!("http://{}{path}", self.addr(service))
    }

    /// POSTs a GraphQL request without variables to `service`.
    pub async fn query(&self, service: &str, query: &str, token: Option<&str>) -> Gql {
        self.gql(service, query, json!({}), token).await
    }

    /// Starts the platform with its events going through `broker`.
    pub async fn with_broker(broker: &crate::Broker) -> anyhow::Result<Self> {
        Builder::default().kafka(broker.bootstrap()).start().await
    }

    /// POSTs a GraphQL request to `service`.
    pub async fn gql(
        &self,
        service: &str,
        query: &str,
        variables: Value,
        token: Option<&str>,
    ) -> Gql {
        let mut request = self
            .http
            .post(self.url(service, "/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status();
        let body = response.json().await.expect("a JSON body");
        Gql { status, body }
    }

    fn session(payload: &Value) -> Session {
        let access = payload["accessToken"].as_str().expect("accessToken");
        Session {
            user_id: crate::tokens::claims(access)["sub"]
                .as_str()
                .expect("the access token names its user")
                .to_owned(),
            access: access.to_owned(),
            refresh: payload["refreshToken"]
                .as_str()
                .expect("refreshToken")
                .to_owned(),
        }
    }

    /// Signs up through the auth service.
    pub async fn sign_up(&self, email: &str, password: &str, name: &str) -> Session {
        let r = self
            .gql(
                "auth",
                SIGN_UP,
                json!({ "i": { "email": email, "password": password, "displayName": name } }),
                None,
            )
            .await
            .ok();
        Self::session(r.data("signUp"))
    }

    /// Signs up `email` with a fixed password (for concurrent sign-ups).
    pub async fn sign_up_owned(&self, email: String) -> Session {
        self.sign_up(&email, "correct horse battery", "Someone")
            .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Gql {
        self.gql(
            "auth",
            LOGIN,
            json!({ "i": { "email": email, "password": password } }),
            None,
        )
        .await
    }

    pub fn session_of(r: &Gql, field: &str) -> Session {
        Self::session(r.data(field))
    }

    /// Signs up and waits until identity has the user: a registered account in both services.
    pub async fn registered(&self, email: &str, password: &str, name: &str) -> Session {
        let session = self.sign_up(email, password, name).await;
        self.wait_for_user(&session).await;
        session
    }

    /// Waits until identity has projected the user (it learns of sign-ups through events).
    pub async fn wait_for_user(&self, session: &Session) -> Value {
        let found = crate::eventually(std::time::Duration::from_secs(20), || async {
            let r = self
                .query(
                    "identity",
                    "{ me { id email displayName emailVerified } }",
                    Some(&session.access),
                )
                .await;
            (!r.data("me").is_null()).then(|| r.data("me").clone())
        })
        .await;
        found.expect("identity projects the signed-up user")
    }

    /// `service`'s `/metrics`, as text.
    pub async fn metrics(&self, service: &str) -> String {
        self.http
            .get(self.url(service, "/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// The value of one series of `service`'s `/metrics`, named with its labels
    /// (`name{label="value"}`), or `None` when it reports no such series.
    pub async fn metric(&self, service: &str, series: &str) -> Option<u64> {
        let prefix = format!("{series} ");
        self.metrics(service)
            .await
            .lines()
            .find_map(|line| line.strip_prefix(prefix.as_str()))
            .and_then(|value| value.trim().parse().ok())
    }

    /// Mail in the dev mailbox.
    pub async fn mailbox(&self) -> Vec<tessera_kit::mail::Mail> {
        tessera_kit::mail::read_mailbox(&self.mailbox)
            .await
            .expect("mailbox readable")
    }

    /// The token from the last mail to `to` whose subject contains `subject`.
    pub async fn mailed_token(&self, to: &str, subject: &str) -> String {
        let mails = self.mailbox().await;
        let mail = mails
            .iter()
            .rev()
            .find(|m| m.to == to && m.subject.contains(subject))
            .expect("a mail was sent");
        mail.body
            .lines()
            .find_map(|l| l.strip_prefix("Token: "))
            .expect("the mail carries a token")
            .to_owned()
    }

    pub async fn shutdown(self) {
        self.platform.shutdown().await;
        let _ = tokio::fs::remove_dir_all(&self.mailbox).await;
    }
}
