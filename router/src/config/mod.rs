//! Gateway configuration (`gateway-config/*.yaml`), one file per feature.

pub mod features;
pub mod headers;
pub mod jwt;
pub mod rate_limit;
pub mod security;
pub mod server;
pub mod subgraphs;
pub mod subscriptions;

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub use features::{
    CompressionConfig, CompressionLevel, DedupeConfig, IntrospectionConfig, LimitsConfig,
    OverrideLabelsConfig, PlaygroundConfig, QueryPlanConfig, ReloadConfig, TrafficConfig,
};
pub use headers::HeadersConfig;
pub use jwt::AuthenticationConfig;
pub use rate_limit::RateLimitConfig;
pub use security::{AuthorizationConfig, AuthorizationMode, CorsConfig, CsrfConfig};
pub use server::ServerConfig;
pub use subgraphs::SubgraphsConfig;
pub use subscriptions::{OnSubgraphDisconnect, SingleConnectionConfig, SubscriptionsConfig};

/// The router's configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// The listener: timeouts and limits on client connections.
    #[serde(default)]
    pub server: ServerConfig,
    /// Compressed responses, request bodies and subgraph responses.
    #[serde(default)]
    pub compression: CompressionConfig,
    /// Where each subgraph is served (overrides the supergraph's URLs), and how to reach it.
    #[serde(default)]
    pub subgraphs: SubgraphsConfig,
    #[serde(default)]
    pub introspection: IntrospectionConfig,
    #[serde(default)]
    pub playground: PlaygroundConfig,
    #[serde(default)]
    pub query_plan: QueryPlanConfig,
    #[serde(default)]
    pub headers: HeadersConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub dedupe: DedupeConfig,
    /// Who the caller is: JWTs checked against JWKS sources.
    #[serde(default)]
    pub authentication: AuthenticationConfig,
    /// Request budgets per caller, address, operation or in total.
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// How the supergraph's `@authenticated`, `@requiresScopes` and `@policy` are enforced.
    #[serde(default)]
    pub authorization: AuthorizationConfig,
    /// Which other origins' pages may call the router from a browser.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Refusing requests a browser would send cross-site without a preflight.
    #[serde(default)]
    pub csrf: CsrfConfig,
    /// The overall request timeout.
    #[serde(default)]
    pub traffic: TrafficConfig,
    /// Reloading changed files without a restart.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// Live subscriptions over WebSocket, SSE and multipart HTTP.
    #[serde(default)]
    pub subscriptions: SubscriptionsConfig,
}

impl GatewayConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse(&text)
            .with_context(|| format!("invalid gateway configuration in {}", path.display()))
    }

    /// Reads and checks configuration text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let config: Self = serde_yaml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    /// Checks what the types alone cannot.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.cors.allow_credentials && self.cors.allow_origins.iter().any(|o| o == "*") {
            anyhow::bail!(
                "cors: allow_origins \"*\" cannot be combined with allow_credentials; list the origins"
            );
        }
        if self.subscriptions.buffer == 0 || self.subscriptions.keepalive_ms == 0 {
            anyhow::bail!("subscriptions: buffer and keepalive_ms must be above 0");
        }
        if self.subscriptions.single_connection.reservation_timeout_ms == 0 {
            anyhow::bail!("subscriptions.single_connection.reservation_timeout_ms must be above 0");
        }
        if self.traffic.timeout_ms == 0 || self.traffic.timeout_ms > server::MAX_TIMEOUT_MS {
            anyhow::bail!(
                "traffic.timeout_ms must be above 0 and at most {}",
                server::MAX_TIMEOUT_MS
            );
        }
        if self.traffic.subgraph_max_connections_per_host > server::MAX_PERMITS {
            anyhow::bail!(
                "traffic.subgraph_max_connections_per_host must be at most {}",
                server::MAX_PERMITS
            );
        }
        for (name, subgraph) in &self.subgraphs.0 {
            if subgraph.timeout_ms == 0 || subgraph.timeout_ms > server::MAX_TIMEOUT_MS {
                anyhow::bail!(
                    "subgraphs.{name}.timeout_ms must be above 0 and at most {}",
                    server::MAX_TIMEOUT_MS
                );
            }
        }
        if self.traffic.subgraph_max_response_bytes == 0
            || self.traffic.subgraph_max_connections_per_host == 0
        {
            anyhow::bail!(
                "traffic: subgraph_max_response_bytes and subgraph_max_connections_per_host must be above 0"
            );
        }
        self.server.check()?;
        if let Some(name) = &self.query_plan.override_labels.header {
            http::HeaderName::try_from(name.as_str()).map_err(|_| {
                anyhow::anyhow!("query_plan.override_labels.header: {name:?} is not a header name")
            })?;
        }
        Ok(())
    }
}
