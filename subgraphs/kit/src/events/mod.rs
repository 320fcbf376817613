//! Domain events: one envelope, a bus with two engines, and the outbox/inbox pair that makes
//! delivery reliable.
//!
//! - [`envelope`]: the shape every event shares.
//! - [`bus`]: the [`EventBus`] trait and the in-process engine used when no broker is configured.
//! - [`kafka`]: the Kafka engine (rdkafka, idempotent producer, consumer groups, tails).
//! - [`live`]: each instance's live feed, fanning its topics' events out to subscription
//!   streams.
//! - [`outbox`]: events written in the same transaction as the state change, and the relay that
//!   publishes them, so an event is never lost while the broker is down.
//! - [`consumer`]: a consumer loop with retries, and the inbox that applies each event id once.

pub mod bus;
pub mod consumer;
pub mod envelope;
pub mod kafka;
pub mod live;
pub mod outbox;

use std::sync::Arc;

pub use bus::{BusError, Delivery, EventBus, MemoryBus, Subscription, Tail};
pub use consumer::{EventHandler, HandlerError};
pub use envelope::Envelope;
pub use live::LiveFeed;
pub use outbox::Outbox;

use crate::config::KafkaConfig;

/// The topic a service publishes its events to.
pub fn topic_for(prefix: &str, service: &str) -> String {
    format!("{prefix}{service}")
}

/// The bus for a configuration: Kafka when brokers are configured, the shared in-process bus
/// otherwise.
pub fn bus_for(
    kafka: Option<&KafkaConfig>,
    local: &MemoryBus,
) -> anyhow::Result<Arc<dyn EventBus>> {
    match kafka {
        Some(cfg) => Ok(Arc::new(kafka::KafkaBus::new(cfg)?)),
        None => Ok(Arc::new(local.clone())),
    }
}
