//! Subgraph routing: the name each subgraph has in the supergraph and the URL it is served at.

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
    /// The GraphQL endpoint the router sends this subgraph's fetches to.
    pub url: String,
}
