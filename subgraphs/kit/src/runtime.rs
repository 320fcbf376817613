//! Start-up every service shares: database and migrations, Redis, the event bus, the outbox
//! relay, the live feed, the token verifier, and the HTTP server, all owned by one [`Tasks`]
//! lifecycle.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use redis::aio::ConnectionManager;
use sqlx::migrate::Migrator;

use crate::cache::{Counters, MemoryCounters, RedisCounters};
use crate::caller::TokenVerifier;
use crate::config::{LiveConfig, ServiceConfig};
use crate::db::{Db, statements};
use crate::events::{self, EventBus, EventHandler, LiveFeed, MemoryBus, Outbox};
use crate::server::{self, Health};
use crate::tasks::Tasks;

/// What services of one process share when nothing external is configured.
#[derive(Clone, Default)]
pub struct Embedded {
    /// The in-process event bus.
    pub bus: MemoryBus,
}

/// A started service's infrastructure.
pub struct Runtime {
    pub name: &'static str,
    /// The service's pool. Its statements count under the `request` origin; background work
    /// takes a handle of its own with [`Db::for_origin`].
    pub pool: Db,
    pub redis: Option<ConnectionManager>,
    pub bus: Arc<dyn EventBus>,
    pub outbox: Outbox,
    pub verifier: Arc<TokenVerifier>,
    pub counters: Arc<dyn Counters>,
    pub tasks: Tasks,
    topic_prefix: String,
    external_bus: bool,
    max_body_bytes: usize,
    client_address: crate::server::graphql::ClientAddressRule,
    live_config: LiveConfig,
    live: Option<LiveFeed>,
}

impl Runtime {
    /// Connects and migrates the service's schema, and starts its outbox relay.
    pub async fn start<S>(
        name: &'static str,
        config: &ServiceConfig<S>,
        migrator: &'static Migrator,
        embedded: &Embedded,
        tasks: Tasks,
    ) -> anyhow::Result<Self> {
        if config.client_address == crate::config::ClientAddressSource::Router
            && config.router_secret.is_none()
        {
            anyhow::bail!(
                "client_address: router needs router_secret, the router's signing secret"
            );
        }
        let pool = crate::db::connect(&config.database, name).await?;
        crate::db::migrate(&pool, migrator)
            .await
            .with_context(|| format!("{name} migrations"))?;
        let redis = match &config.redis {
            Some(cfg) => Some(crate::cache::connect(cfg).await?),
            None => None,
        };
        let counters: Arc<dyn Counters> = match (&redis, &config.redis) {
            (Some(conn), Some(cfg)) => Arc::new(RedisCounters::new(
                conn.clone(),
                &format!("{}:{name}", cfg.key_prefix),
            )),
            _ => Arc::new(MemoryCounters::default()),
        };
        let bus = events::bus_for(config.kafka.as_ref(), &embedded.bus)?;
        let topic_prefix = config
            .kafka
            .as_ref()
            .map_or_else(|| "tessera.".to_owned(), |k| k.topic_prefix.clone());
        let outbox = Outbox::new(events::topic_for(&topic_prefix, name));
        tasks.spawn(
            "outbox-relay",
            outbox.clone().relay(
                pool.for_origin(statements::OUTBOX),
                bus.clone(),
                config.outbox.clone(),
                tasks.token(),
            ),
        );
        Ok(Self {
            name,
            pool,
            redis,
            bus,
            outbox,
            verifier: Arc::new(TokenVerifier::from_config(&config.jwt)),
            counters,
            tasks,
            topic_prefix,
            external_bus: config.kafka.is_some(),
            max_body_bytes: config.max_body_bytes,
            client_address: crate::server::graphql::ClientAddressRule {
                source: config.client_address,
                router_secret: config.router_secret.clone().map(Arc::new),
                subgraph: name,
            },
            live_config: config.live.clone(),
            live: None,
        })
    }

    /// The topic another service publishes to.
    pub fn topic_of(&self, service: &str) -> String {
        events::topic_for(&self.topic_prefix, service)
    }

    /// Runs `handler` on `services`' topics as consumer group `<this service>`.
    pub fn consume(&self, services: &[&str], handler: Arc<dyn EventHandler>) {
        let topics = services.iter().map(|s| self.topic_of(s)).collect();
        let group = format!("{}{}", self.topic_prefix, self.name);
        self.tasks.spawn(
            "event-consumer",
            events::consumer::run(self.bus.clone(), topics, group, handler, self.tasks.token()),
        );
    }

    /// Starts this instance's live feed over `services`' topics (see [`events::live`]); it is
    /// in place when this returns, unless the broker does not answer. The subgraph served
    /// afterwards reports its metrics.
    pub async fn live(&mut self, services: &[&str]) -> LiveFeed {
        let topics = services.iter().map(|s| self.topic_of(s)).collect();
        let feed = LiveFeed::start(
            self.name,
            self.bus.clone(),
            topics,
            &self.live_config,
            &self.tasks,
        )
        .await;
        self.live = Some(feed.clone());
        feed
    }

    /// Readiness checks for this service.
    pub fn health(&self) -> Health {
        Health {
            database: self.pool.for_origin(statements::HEALTH),
            redis: self.redis.clone(),
            bus: self.external_bus.then(|| self.bus.clone()),
        }
    }

    /// Serves `schema` as this service's subgraph (GraphQL over HTTP and WebSocket, health,
    /// metrics) plus the service's `extra` routes; returns the bound address.
    pub fn serve_subgraph<E>(
        &self,
        listener: tokio::net::TcpListener,
        schema: E,
        extra: axum::Router,
    ) -> anyhow::Result<SocketAddr>
    where
        E: async_graphql::Executor + Clone,
    {
        let app = server::router(
            server::Subgraph {
                name: self.name,
                schema,
                verifier: self.verifier.clone(),
                health: self.health(),
                max_body_bytes: self.max_body_bytes,
                client_address: self.client_address.clone(),
                live: self.live.clone(),
            },
            extra,
        );
        self.serve(listener, app)
    }

    /// Serves `app` on `listener` as a background task; returns the bound address.
    pub fn serve(
        &self,
        listener: tokio::net::TcpListener,
        app: axum::Router,
    ) -> anyhow::Result<SocketAddr> {
        let bound = listener.local_addr()?;
        tracing::info!(service = self.name, %bound, "listening");
        self.tasks.spawn(
            "http",
            server::serve(listener, app, self.tasks.token(), Duration::from_secs(10)),
        );
        Ok(bound)
    }
}
