//! Service configuration: defaults, then an optional YAML file, then the environment.
//!
//! The one override mechanism is the environment: `TESSERA_<SECTION>__<KEY>` (for example
//! `TESSERA_DATABASE__MAX_CONNECTIONS=20`), plus the conventional `DATABASE_URL`, `REDIS_URL` and
//! `KAFKA_BROKERS`, which map to `database.url`, `redis.url` and `kafka.brokers`.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Yaml};
use serde::{Deserialize, Serialize};

/// A value that must never reach a log line: `Debug` and `Display` print a placeholder.
#[derive(Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself; call sites that need it are few and easy to audit.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Everything a subgraph service needs to run, plus its own section `service`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig<S> {
    /// Address the HTTP server binds to.
    pub listen: SocketAddr,
    /// PostgreSQL connection; always required.
    pub database: DatabaseConfig,
    /// Redis for shared counters and caches; in-process state when absent.
    pub redis: Option<RedisConfig>,
    /// Kafka brokers for domain events; an in-process bus when absent.
    pub kafka: Option<KafkaConfig>,
    /// How forwarded access tokens are verified.
    pub jwt: JwtConfig,
    /// Outbox relay tuning.
    pub outbox: OutboxConfig,
    /// Live subscriptions: how each instance fans events out to its subscribers.
    pub live: LiveConfig,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Where the client's address is read from.
    pub client_address: ClientAddressSource,
    /// The secret the router signs `x-tessera-client-address` with (`client_address: router`).
    pub router_secret: Option<Secret<String>>,
    /// The service's own settings.
    pub service: S,
}

impl<S: Default> Default for ServiceConfig<S> {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DatabaseConfig::default(),
            redis: None,
            kafka: None,
            jwt: JwtConfig::default(),
            outbox: OutboxConfig::default(),
            live: LiveConfig::default(),
            max_body_bytes: 1024 * 1024,
            client_address: ClientAddressSource::default(),
            router_secret: None,
            service: S::default(),
        }
    }
}

/// Where a request's client address comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAddressSource {
    /// The TCP peer: right when clients connect directly.
    #[default]
    Peer,
    /// The first `X-Forwarded-For` hop: right only behind a proxy that sets it and drops
    /// what the client sent.
    ForwardedFor,
    /// The address the router vouches for in `x-tessera-client-address`, believed only when
    /// signed with `router_secret`; the TCP peer otherwise.
    Router,
}

/// PostgreSQL settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:5432/tessera`.
    pub url: Secret<String>,
    /// Upper bound on pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing, in milliseconds.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: Secret::new("postgres://postgres@127.0.0.1:5432/tessera".to_owned()),
            max_connections: 10,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// Redis settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// Connection URL, e.g. `redis://127.0.0.1:6379`.
    pub url: Secret<String>,
    /// Prefix for every key this service writes, so several deployments can share one Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
}

fn default_key_prefix() -> String {
    "tessera".to_owned()
}

/// Kafka settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Comma-separated bootstrap brokers, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    /// Prefix of every topic name; a service publishes to `<prefix><service>`.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// How long a publish may wait for the broker before it counts as failed, in milliseconds.
    #[serde(default = "default_publish_timeout_ms")]
    pub publish_timeout_ms: u64,
}

fn default_topic_prefix() -> String {
    "tessera.".to_owned()
}

fn default_publish_timeout_ms() -> u64 {
    10_000
}

/// Verification of forwarded access tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct JwtConfig {
    /// Where the auth service publishes its signing keys.
    pub jwks_url: String,
    /// Expected `iss` claim.
    pub issuer: String,
    /// Expected `aud` claim.
    pub audience: String,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Shortest interval between two JWKS fetches triggered by an unknown `kid`, in milliseconds.
    pub min_refresh_interval_ms: u64,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            jwks_url: "http://127.0.0.1:8081/.well-known/jwks.json".to_owned(),
            issuer: "tessera-auth".to_owned(),
            audience: "tessera".to_owned(),
            leeway_secs: 5,
            min_refresh_interval_ms: 1_000,
        }
    }
}

/// Outbox relay tuning.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// How often the relay looks for unpublished events when nothing woke it, in milliseconds.
    pub poll_interval_ms: u64,
    /// Events published per relay transaction.
    pub batch_size: i64,
    /// Longest pause between attempts while the bus is failing, in milliseconds.
    pub max_backoff_ms: u64,
    /// How long published events stay in the table before cleanup, in hours.
    pub retention_hours: i64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval_ms: 500,
            batch_size: 100,
            max_backoff_ms: 5_000,
            retention_hours: 24,
        }
    }
}

/// Live subscriptions (see [`crate::events::live`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// Events buffered per subscriber. A subscriber that falls this far behind is dropped with
    /// `SUBSCRIBER_TOO_SLOW` rather than slowing anyone else down.
    pub subscriber_buffer: usize,
    /// Longest pause between attempts to reach the broker while the feed is down, in
    /// milliseconds.
    pub max_backoff_ms: u64,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            subscriber_buffer: 256,
            max_backoff_ms: 5_000,
        }
    }
}

/// The top-level keys of [`ServiceConfig`]. Only `TESSERA_` variables that name one of them are
/// configuration; others (tool paths, test settings) are left alone, while a mistyped key inside
/// a section is still an error.
const SECTIONS: [&str; 11] = [
    "listen",
    "database",
    "redis",
    "kafka",
    "jwt",
    "outbox",
    "live",
    "max_body_bytes",
    "client_address",
    "router_secret",
    "service",
];

/// Loads a service configuration: defaults, then `file` if given, then the environment.
pub fn load<S>(file: Option<&Path>) -> anyhow::Result<ServiceConfig<S>>
where
    S: Default + Serialize + for<'de> Deserialize<'de>,
{
    let mut figment = Figment::from(Serialized::defaults(ServiceConfig::<S>::default()));
    if let Some(path) = file {
        anyhow::ensure!(
            path.exists(),
            "configuration file {} does not exist",
            path.display()
        );
        figment = figment.merge(Yaml::file(path));
    }
    let settings = Env::prefixed("TESSERA_").split("__").filter(|key| {
        let section = key.as_str().split('.').next().unwrap_or_default();
        SECTIONS
            .iter()
            .any(|known| known.eq_ignore_ascii_case(section))
    });
    figment = figment
        .merge(settings)
        .merge(
            Env::raw()
                .only(&["database_url"])
                .map(|_| "database.url".into()),
        )
        .merge(Env::raw().only(&["redis_url"]).map(|_| "redis.url".into()))
        .merge(
            Env::raw()
                .only(&["kafka_brokers"])
                .map(|_| "kafka.brokers".into()),
        );
    figment.extract().context("invalid service configuration")
}

#[cfg(test)]
// figment's Jail closures return its own large error type.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(deny_unknown_fields, default)]
    struct Own {
        ttl: u32,
    }

    #[test]
    fn secrets_do_not_print() {
        let cfg = DatabaseConfig::default();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("postgres://"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn rejects_unknown_fields_in_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("svc.yaml", "listen: 127.0.0.1:9000\nlisten_port: 3\n")?;
            let err = load::<Own>(Some(Path::new("svc.yaml"))).expect_err("unknown field");
            assert!(format!("{err:#}").contains("listen_port"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn rejects_mistyped_keys_inside_a_section() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_DATABASE__MAX_CONECTIONS", "3");
            let err = load::<Own>(None).expect_err("unknown field");
            assert!(format!("{err:#}").contains("max_conections"), "{err:#}");
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_file() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("svc.yaml", "service:\n  ttl: 5\n")?;
            jail.set_env("TESSERA_SERVICE__TTL", "9");
            jail.set_env("DATABASE_URL", "postgres://other/db");
            jail.set_env("KAFKA_BROKERS", "127.0.0.1:1");
            jail.set_env("TESSERA_TOOLS_DIR", "/elsewhere");
            let cfg = load::<Own>(Some(Path::new("svc.yaml"))).expect("loads");
            assert_eq!(cfg.service.ttl, 9);
            assert_eq!(cfg.database.url.expose(), "postgres://other/db");
            assert_eq!(cfg.kafka.expect("kafka from env").brokers, "127.0.0.1:1");
            Ok(())
        });
    }
}
