//! What the router serves besides GraphQL execution, and what it forwards.

use serde::Deserialize;

/// Schema introspection (`__schema`, `__type`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Answer introspection queries. Turn off in production if the schema is private.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The GraphiQL playground at `GET /` (and `GET /graphql` for browsers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for PlaygroundConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Query plans in responses: a request with the header `X-Tessera-Query-Plan: 1` gets the plan
/// in `extensions.queryPlan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryPlanConfig {
    /// Honour the header. Plans reveal the subgraph layout, so production may turn this off.
    #[serde(default = "yes")]
    pub expose: bool,
    /// How many plans (and parsed operations) to keep.
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
}

impl Default for QueryPlanConfig {
    fn default() -> Self {
        Self {
            expose: true,
            cache_size: default_cache_size(),
        }
    }
}

/// Client request headers copied onto every subgraph request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersConfig {
    /// Header names (case-insensitive), e.g. `authorization`.
    #[serde(default)]
    pub propagate: Vec<String>,
}

/// Limits on what a client may send.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest request body accepted, in bytes; larger bodies get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_cache_size() -> usize {
    1024
}

fn default_max_body_bytes() -> usize {
    2 * 1024 * 1024
}

/// Sharing work among identical requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    /// Identical subgraph queries (same subgraph, operation, variables and forwarded headers)
    /// in flight at the same time share one request. Mutations are never shared.
    #[serde(default = "yes")]
    pub subgraph_queries: bool,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        Self {
            subgraph_queries: true,
        }
    }
}
