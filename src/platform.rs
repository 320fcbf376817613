//! Assembling the platform in one process. Services still talk to each other over HTTP and
//! through the event bus, exactly as when they are deployed one per process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use tessera_kit::config::{KafkaConfig, RedisConfig, Secret, ServiceConfig};
use tessera_kit::runtime::Embedded;
use tessera_kit::server;
use tessera_kit::tasks::Tasks;
use tessera_router::config::subgraphs::SubgraphConfig;
use tessera_router::config::{GatewayConfig, SubgraphsConfig};
use tessera_router::server::RouterServer;

/// The subgraph services, in start order (auth first: the others verify against its JWKS).
pub const SERVICES: [&str; 6] = ["auth", "identity", "authz", "audit", "blog", "billing"];

/// Ports of `tessera dev`.
pub const DEV_PORTS: [(&str, u16); 6] = [
    ("auth", 8081),
    ("identity", 8082),
    ("authz", 8083),
    ("audit", 8084),
    ("blog", 8091),
    ("billing", 8092),
];
/// Where `tessera dev` serves the router.
pub const DEV_ROUTER_PORT: u16 = 8080;

/// How to start the platform.
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    pub database_url: Secret<String>,
    /// Redis for shared counters; in-process counters when absent.
    pub redis: Option<RedisConfig>,
    /// Kafka for events; the in-process bus when absent.
    pub kafka: Option<KafkaConfig>,
    /// Bind address per service; port 0 picks a free port.
    pub listen: Vec<(&'static str, SocketAddr)>,
    /// Where the dev mailbox writes.
    pub mailbox_dir: PathBuf,
    /// Bootstrap administrators: auth gives them its admin scopes on sign-in, and authz grants
    /// them the admin role when they register.
    pub admin_emails: Vec<String>,
    /// Overrides the access-token lifetime (tests of expiry).
    pub access_token_ttl_secs: Option<u64>,
    /// Overrides how often auth re-reads its signing keys (tests of rotation).
    pub key_reload_secs: Option<u64>,
    /// Overrides the login throttle (tests of throttling).
    pub login_throttle: Option<tessera_auth::ThrottleConfig>,
    /// Overrides how often billing's renewal job runs, in milliseconds (tests of renewals).
    pub billing_renewal_interval_ms: Option<u64>,
    /// Overrides how long blog's batch loaders gather keys (statement-count tests, where a
    /// debug build resolves a level of a response slower than the production window).
    pub blog_batch_delay_ms: Option<u64>,
    /// Where the router listens, in front of the subgraphs; no router when absent.
    pub router: Option<SocketAddr>,
    /// The router's configuration. Subgraph URLs come from the running subgraphs.
    pub gateway: GatewayConfig,
    /// What the router signs the client's address with for the subgraphs (random per start):
    /// auth's per-address login throttle counts the router's clients, not the router.
    pub router_secret: Secret<String>,
}

impl PlatformOptions {
    /// Every service on a free port of 127.0.0.1.
    pub fn ephemeral(database_url: String) -> Self {
        Self {
            router_secret: Secret::new(hex::encode(rand::random::<[u8; 32]>())),
            database_url: Secret::new(database_url),
            redis: None,
            kafka: None,
            listen: SERVICES
                .iter()
                .map(|s| (*s, SocketAddr::from(([127, 0, 0, 1], 0))))
                .collect(),
            mailbox_dir: PathBuf::from(".tessera/mailbox"),
            admin_emails: Vec::new(),
            access_token_ttl_secs: None,
            key_reload_secs: None,
            login_throttle: None,
            billing_renewal_interval_ms: None,
            blog_batch_delay_ms: None,
            router: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            gateway: GatewayConfig {
                headers: tessera_router::config::HeadersConfig {
                    propagate: vec!["authorization".to_owned()],
                    ..Default::default()
                },
                ..GatewayConfig::default()
            },
        }
    }

    fn listen_of(&self, service: &str) -> SocketAddr {
        self.listen
            .iter()
            .find(|(name, _)| *name == service)
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)), |(_, addr)| *addr)
    }

    fn base<S: Default>(&self, service: &str, jwks_url: &str) -> ServiceConfig<S> {
        let defaults = ServiceConfig::<S>::default();
        ServiceConfig {
            listen: self.listen_of(service),
            database: tessera_kit::config::DatabaseConfig {
                url: self.database_url.clone(),
                ..defaults.database
            },
            redis: self.redis.clone(),
            kafka: self.kafka.clone(),
            jwt: tessera_kit::config::JwtConfig {
                jwks_url: jwks_url.to_owned(),
                ..defaults.jwt
            },
            client_address: tessera_kit::config::ClientAddressSource::Router,
            router_secret: Some(self.router_secret.clone()),
            ..defaults
        }
    }
}

/// A running platform.
pub struct Platform {
    pub tasks: Tasks,
    /// What the services share in process (the event bus when no broker is configured).
    pub embedded: Embedded,
    /// Every service's address, the router's (as `router`) included.
    pub addresses: Vec<(&'static str, SocketAddr)>,
    /// The supergraph composed from the running subgraphs.
    pub supergraph: String,
    router: std::sync::Mutex<Option<RouterServer>>,
}

impl Platform {
    /// What the platform's router runs with (its subgraphs, authentication and header rules),
    /// to start more routers like it.
    pub fn router_config(&self) -> Option<tessera_router::config::GatewayConfig> {
        self.router
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|router| router.engine().load().config.clone())
    }

    /// Starts every service and returns once each one listens.
    pub async fn start(options: &PlatformOptions) -> anyhow::Result<Self> {
        let tasks = Tasks::new();
        let embedded = Embedded::default();

        // Auth first: its address is the JWKS every service verifies against.
        let auth_listener = server::bind(options.listen_of("auth")).await?;
        let auth_addr = auth_listener.local_addr()?;
        let jwks_url = format!("http://{auth_addr}/.well-known/jwks.json");

        let mut auth = options.base::<tessera_auth::Settings>("auth", &jwks_url);
        auth.service.mail.mailbox_dir = options.mailbox_dir.clone();
        auth.service.admin_emails = options.admin_emails.clone();
        if let Some(ttl) = options.access_token_ttl_secs {
            auth.service.access_token_ttl_secs = ttl;
        }
        if let Some(secs) = options.key_reload_secs {
            auth.service.key_reload_secs = secs;
        }
        if let Some(throttle) = options.login_throttle.clone() {
            auth.service.throttle = throttle;
        }
        let auth_addr = tessera_auth::start(auth, auth_listener, &embedded, tasks.clone()).await?;

        let mut identity = options.base::<tessera_identity::Settings>("identity", &jwks_url);
        identity.service.mail.mailbox_dir = options.mailbox_dir.clone();
        let identity_listener = server::bind(identity.listen).await?;
        let identity_addr =
            tessera_identity::start(identity, identity_listener, &embedded, tasks.clone()).await?;

        let mut authz = options.base::<tessera_authz::Settings>("authz", &jwks_url);
        authz.service.admin_emails = options.admin_emails.clone();
        let authz_listener = server::bind(authz.listen).await?;
        let authz_addr =
            tessera_authz::start(authz, authz_listener, &embedded, tasks.clone()).await?;
        let audit = options.base::<tessera_audit::Settings>("audit", &jwks_url);
        let audit_listener = server::bind(audit.listen).await?;
        let audit_addr =
            tessera_audit::start(audit, audit_listener, &embedded, tasks.clone()).await?;

        let mut addresses = vec![
            ("auth", auth_addr),
            ("identity", identity_addr),
            ("authz", authz_addr),
            ("audit", audit_addr),
        ];

        let mut blog = options.base::<tessera_blog::Settings>("blog", &jwks_url);
        if let Some(ms) = options.blog_batch_delay_ms {
            blog.service.batch_delay_ms = ms;
        }
        let blog_listener = server::bind(blog.listen).await?;
        let blog_addr = tessera_blog::start(blog, blog_listener, &embedded, tasks.clone()).await?;
        addresses.push(("blog", blog_addr));

        let mut billing = options.base::<tessera_billing::Settings>("billing", &jwks_url);
        if let Some(ms) = options.billing_renewal_interval_ms {
            billing.service.renewal_interval_ms = ms;
        }
        let billing_listener = server::bind(billing.listen).await?;
        let billing_addr =
            tessera_billing::start(billing, billing_listener, &embedded, tasks.clone()).await?;
        addresses.push(("billing", billing_addr));

        let running = SubgraphsConfig(
            addresses
                .iter()
                .map(|(name, addr)| {
                    let url = format!("http://{addr}/graphql");
                    ((*name).to_owned(), SubgraphConfig::new(url))
                })
                .collect(),
        );
        let supergraph = crate::compose::compose_running(&running).await?;
        let router = match options.router {
            Some(listen) => {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("the router cannot listen on {listen}"))?;
                let mut gateway = options.gateway.clone();
                gateway.subgraphs = running;
                // Auth throttles logins per client address; the others have no use for it,
                // and it would keep identical requests of different clients apart.
                if gateway.headers.client_address.subgraphs.is_empty() {
                    gateway.headers.client_address.subgraphs = vec!["auth".to_owned()];
                }
                gateway.headers.client_address.secret =
                    Some(tessera_router::config::headers::SecretText(
                        options.router_secret.expose().clone(),
                    ));
                // Unless configured otherwise, the router checks tokens against the auth
                // service's keys, as every subgraph does.
                if gateway.authentication.jwt.is_none() {
                    let jwt = tessera_kit::config::JwtConfig::default();
                    gateway.authentication.jwt =
                        Some(tessera_router::config::jwt::JwtConfig::for_jwks_url(
                            &jwks_url,
                            &jwt.issuer,
                            &jwt.audience,
                        ));
                }
                let router = RouterServer::start(listener, &supergraph, gateway).await?;
                addresses.push(("router", router.addr()));
                Some(router)
            }
            None => None,
        };
        Ok(Self {
            tasks,
            embedded,
            addresses,
            supergraph,
            router: std::sync::Mutex::new(router),
        })
    }

    /// The address of `service`.
    pub fn address(&self, service: &str) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(name, _)| *name == service)
            .map(|(_, addr)| *addr)
    }

    /// Stops the router, then every service and background task.
    pub async fn shutdown(&self) {
        let router = self.router.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(router) = router {
            router.shutdown().await;
        }
        self.tasks
            .shutdown(std::time::Duration::from_secs(10))
            .await;
    }
}
