//! The end-to-end testkit: a private database per test, a real Kafka-protocol broker, and the
//! platform started in-process on free ports, spoken to over HTTP as a client would.
//!
//! - [`db`]: a throw-away PostgreSQL database per test.
//! - [`broker`]: a Tansu broker (Kafka protocol) started on a free port.
//! - [`platform`]: the platform under test and a small GraphQL client.
//! - [`federation`]: small subgraph sets composed and served behind the real router.
//! - [`tokens`]: tokens forged with the auth service's real keys, for rejection tests.
//! - [`ws`]: a GraphQL over WebSocket client, and the probe for a service's live subscriptions.

pub mod broker;
pub mod db;
pub mod federation;
pub mod platform;
pub mod tokens;
pub mod ws;

pub use broker::Broker;
pub use db::TestDb;
pub use federation::Federation;
pub use platform::{Gql, TestPlatform};
pub use ws::WsClient;

/// Polls `check` until it returns `Some` or `timeout` passes: a readiness probe, not a sleep.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
