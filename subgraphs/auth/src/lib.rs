//! The auth service: credentials (argon2id), sessions, access JWTs signed with rotating Ed25519
//! keys and published as a JWKS, refresh-token rotation with reuse detection, logout and
//! revocation, login throttling, and password reset.
//!
//! - [`graphql`]: the schema and resolvers.
//! - [`domain`]: passwords, the key ring, sessions and the account flows.
//! - [`store`]: sqlx queries against the `auth` schema.
//! - [`events`]: the scopes tokens carry, kept in step with authz's `scopes.changed`.

pub mod domain;
pub mod events;
pub mod graphql;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tessera_kit::config::ServiceConfig;
use tessera_kit::mail::MailConfig;
use tessera_kit::runtime::{Embedded, Runtime};
use tessera_kit::tasks::Tasks;

use domain::accounts::Accounts;
use domain::keys::KeyRing;

/// Service name: schema, topic suffix and consumer group.
pub const NAME: &str = "auth";

/// The auth service's migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/auth");

/// The auth service's own settings.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Outgoing mail (password reset links).
    pub mail: MailConfig,
    /// Lifetime of an access token, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token, in days.
    pub refresh_token_ttl_days: i64,
    /// Age at which the signing key is replaced, in hours.
    pub key_rotation_hours: u64,
    /// How often the key ring is re-read (rotations by other instances), in seconds.
    pub key_reload_secs: u64,
    /// Lifetime of a password reset link, in minutes.
    pub reset_ttl_minutes: i64,
    /// Reset mails one address may trigger per hour.
    pub reset_requests_per_hour: u64,
    /// Login throttling.
    pub throttle: ThrottleConfig,
    /// Accounts that receive `admin_scopes` on every sign-in (bootstrap administrators).
    pub admin_emails: Vec<String>,
    /// Scopes given to `admin_emails`, on top of the scopes authz grants them. By default the
    /// permissions of authz's built-in admin role.
    pub admin_scopes: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mail: MailConfig::default(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            key_rotation_hours: 24 * 7,
            key_reload_secs: 60,
            reset_ttl_minutes: 60,
            reset_requests_per_hour: 3,
            throttle: ThrottleConfig::default(),
            admin_emails: Vec::new(),
            admin_scopes: ADMIN_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// The permissions of authz's built-in admin role (see its first migration).
pub const ADMIN_SCOPES: [&str; 5] = [
    "audit:read",
    "billing:manage",
    "blog:moderate",
    "roles:manage",
    "users:read",
];

/// Failed logins tolerated in one window before further attempts are refused.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Window length, in seconds.
    pub window_secs: u64,
    /// Failures per account (email) per window.
    pub max_failures_per_account: u64,
    /// Failures per client address per window.
    pub max_failures_per_address: u64,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        Self {
            window_secs: 900,
            max_failures_per_account: 5,
            max_failures_per_address: 50,
        }
    }
}

pub type Config = ServiceConfig<Settings>;

/// Starts the service on `listener`; returns the address it serves.
pub async fn start(
    config: Config,
    listener: tokio::net::TcpListener,
    embedded: &Embedded,
    tasks: Tasks,
) -> anyhow::Result<SocketAddr> {
    let runtime = Runtime::start(NAME, &config, &MIGRATOR, embedded, tasks.clone()).await?;
    let settings = config.service.clone();
    let publish_after_retire =
        Duration::from_secs(settings.access_token_ttl_secs + config.jwt.leeway_secs + 60);
    runtime.consume(
        &["authz"],
        Arc::new(events::ScopeSync {
            pool: runtime.pool.clone(),
        }),
    );
    let keys = Arc::new(KeyRing::load(runtime.pool.clone(), publish_after_retire).await?);
    tasks.spawn(
        "key-rotation",
        rotate_keys(
            keys.clone(),
            Duration::from_secs(settings.key_reload_secs.max(1)),
            Duration::from_secs(settings.key_rotation_hours * 3600),
            tasks.token(),
        ),
    );
    let accounts = Arc::new(Accounts {
        pool: runtime.pool.clone(),
        keys: keys.clone(),
        outbox: runtime.outbox.clone(),
        counters: runtime.counters.clone(),
        notifier: tessera_kit::mail::notifier(&settings.mail)?,
        settings,
        issuer: config.jwt.issuer.clone(),
        audience: config.jwt.audience.clone(),
    });
    let jwks = axum::Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .with_state(keys);
    runtime.serve_subgraph(listener, graphql::schema(accounts), jwks)
}

async fn jwks(State(keys): State<Arc<KeyRing>>) -> impl IntoResponse {
    // Short caching: verifiers refetch on an unknown kid anyway.
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(keys.jwks().await),
    )
}

/// Reloads keys every `reload` (other instances may rotate) and rotates when the key is due.
async fn rotate_keys(
    keys: Arc<KeyRing>,
    reload: Duration,
    every: Duration,
    cancel: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            () = tokio::time::sleep(reload) => {}
        }
        let maintained = async {
            keys.reload().await?;
            keys.rotate_if_due(every).await
        };
        if let Err(err) = maintained.await {
            tracing::warn!(error = format!("{err:#}"), "signing key maintenance failed");
        }
    }
}
