//! Gateway configuration (`gateway-config/*.yaml`), one file per feature.

pub mod features;
pub mod jwt;
pub mod rate_limit;
pub mod subgraphs;

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub use features::{
    DedupeConfig, HeadersConfig, IntrospectionConfig, LimitsConfig, PlaygroundConfig,
    QueryPlanConfig,
};
pub use jwt::AuthenticationConfig;
pub use rate_limit::RateLimitConfig;
pub use subgraphs::SubgraphsConfig;

/// The router's configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
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
}

impl GatewayConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_yaml::from_str(&text)
            .with_context(|| format!("invalid gateway configuration in {}", path.display()))
    }
}
