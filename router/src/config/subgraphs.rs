//! Subgraph routing: the name each subgraph has in the supergraph, the URL it is served at,
//! and how the router talks to it.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Subgraphs by name, in name order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SubgraphsConfig(pub BTreeMap<String, SubgraphConfig>);

/// One subgraph.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubgraphConfig {
    /// The GraphQL endpoint the router sends this subgraph's fetches to. For the router it
    /// overrides the URL in the supergraph; composition records it in the supergraph.
    pub url: String,
    /// The HTTP protocol for this subgraph's fetches.
    #[serde(default)]
    pub protocol: Protocol,
    /// How long one fetch may take, in milliseconds, before it fails with
    /// `SUBGRAPH_REQUEST_FAILED`.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// The WebSocket endpoint (graphql-transport-ws) the router subscribes at; by default
    /// `url` with `ws://` or `wss://`.
    #[serde(default)]
    pub subscription_url: Option<String>,
    /// The largest response read from this subgraph, in bytes (by default
    /// `traffic.subgraph_max_response_bytes`).
    #[serde(default)]
    pub max_response_bytes: Option<usize>,
}

/// How fetches reach a subgraph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1 with pooled keep-alive connections.
    #[default]
    Http1,
    /// HTTP/2 over plain TCP (prior knowledge), many fetches on one connection.
    H2c,
}

pub(crate) fn default_timeout_ms() -> u64 {
    30_000
}

impl SubgraphConfig {
    /// A subgraph at `url` with default settings.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            protocol: Protocol::default(),
            timeout_ms: default_timeout_ms(),
            subscription_url: None,
            max_response_bytes: None,
        }
    }
}

/// `url` with its HTTP scheme turned into the matching WebSocket scheme.
pub fn websocket_url(url: &str) -> String {
    if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        url.to_owned()
    }
}
