//! A federation test corpus: for each Federation directive family, a few subgraphs written
//! for the purpose (async-graphql, in-memory data), composed and run behind the real router.
//! Each test checks the exact response, snapshots the query plan, and where the point is what
//! the router asked of whom, the requests each subgraph received.

mod abstract_types;
mod conditions;
mod context;
mod errors;
mod inaccessible;
mod keys;
mod mutations;
mod overrides;
mod provides;
mod requires;
mod shareable;

use serde_json::Value;
use tessera_tests::federation::{Federation, Subgraph};

/// Starts `subgraphs` behind the router.
async fn start(subgraphs: impl IntoIterator<Item = Subgraph>) -> Federation {
    Federation::start(subgraphs)
        .await
        .unwrap_or_else(|e| panic!("the federation starts: {e:#}"))
}

/// The representations `subgraph` was sent, one list per `_entities` request.
fn representations(federation: &Federation, subgraph: &str) -> Vec<Vec<Value>> {
    federation
        .received_by(subgraph)
        .iter()
        .map(|r| r.representations())
        .collect()
}
