//! The Kafka engine: an idempotent producer keyed by subject, and consumer groups that store an
//! offset only after the handler succeeded (at-least-once; the inbox makes it exactly-once in
//! effect).

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;

use super::{BusError, Delivery, Envelope, EventBus, Subscription};
use crate::config::KafkaConfig;

/// Kafka through rdkafka.
pub struct KafkaBus {
    brokers: String,
    config: KafkaConfig,
    /// Replaced after a failed publish: an idempotent producer that lost its broker can be left
    /// with sequence state the returning broker no longer knows.
    producer: std::sync::RwLock<FutureProducer>,
    publish_timeout: Duration,
    /// Topics known to exist; a topic is created before its first publish.
    known_topics: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl KafkaBus {
    pub fn new(config: &KafkaConfig) -> anyhow::Result<Self> {
        Ok(Self {
            brokers: config.brokers.clone(),
            config: config.clone(),
            producer: std::sync::RwLock::new(producer(config)?),
            publish_timeout: Duration::from_millis(config.publish_timeout_ms),
            known_topics: std::sync::Mutex::default(),
        })
    }

    /// Creates `topics` if they do not exist yet.
    pub async fn ensure_topics(&self, topics: &[String]) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()
            .map_err(unavailable)?;
        let new: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new()
            .operation_timeout(Some(self.publish_timeout))
            .request_timeout(Some(self.publish_timeout));
        let results = admin
            .create_topics(&new, &options)
            .await
            .map_err(unavailable)?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Unavailable(format!(
                        "cannot create topic {topic}: {code}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn producer(config: &KafkaConfig) -> anyhow::Result<FutureProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("message.timeout.ms", config.publish_timeout_ms.to_string())
        .create()?)
}

impl KafkaBus {
    fn producer(&self) -> FutureProducer {
        self.producer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn renew_producer(&self) {
        match producer(&self.config) {
            Ok(fresh) => {
                let old = std::mem::replace(
                    &mut *self
                        .producer
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    fresh,
                );
                drop_blocking(old);
            }
            Err(err) => tracing::warn!(error = %err, "cannot create a Kafka producer"),
        }
    }

    fn is_known(&self, topic: &str) -> bool {
        self.known_topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(topic)
    }

    fn remember(&self, topic: &str, exists: bool) {
        let mut known = self
            .known_topics
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if exists {
            known.insert(topic.to_owned());
        } else {
            known.remove(topic);
        }
    }
}

/// Destroying a librdkafka client waits for its threads and in-flight requests, which can take
/// until a timeout while the broker is unreachable: never on an async worker.
fn drop_blocking<T: Send + 'static>(client: T) {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => drop(handle.spawn_blocking(move || drop(client))),
        Err(_) => drop(client),
    }
}

fn unavailable(err: impl std::fmt::Display) -> BusError {
    BusError::Unavailable(err.to_string())
}

#[async_trait]
impl EventBus for KafkaBus {
    async fn publish(&self, topic: &str, event: &Envelope) -> Result<(), BusError> {
        if !self.is_known(topic) {
            // Best effort: a broker that creates topics itself, or one where the topic exists
            // already, still takes the message; if neither, the publish below fails and is
            // retried.
            if let Err(err) = self.ensure_topics(&[topic.to_owned()]).await {
                tracing::debug!(topic, error = %err, "cannot create topic");
            }
        }
        let payload = serde_json::to_vec(event)?;
        let id = event.id.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "event-id",
                value: Some(id.as_str()),
            })
            .insert(Header {
                key: "event-type",
                value: Some(event.kind.as_str()),
            });
        let record = FutureRecord::to(topic)
            .key(&event.subject)
            .payload(&payload)
            .headers(headers);
        self.producer()
            .send(record, self.publish_timeout)
            .await
            .map(|_| self.remember(topic, true))
            .map_err(|(err, _)| {
                // The broker may have come back without the topic (a restarted in-memory
                // broker, a recreated cluster): make sure it exists before the next attempt.
                self.remember(topic, false);
                self.renew_producer();
                unavailable(err)
            })
    }

    async fn subscribe(
        &self,
        topics: &[String],
        group: &str,
    ) -> Result<Box<dyn Subscription>, BusError> {
        if let Err(err) = self.ensure_topics(topics).await {
            tracing::debug!(error = %err, "cannot create topics; subscribing anyway");
        }
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            // Notice topics created after joining (a new service's first event) within seconds.
            .set("topic.metadata.refresh.interval.ms", "5000")
            .create()
            .map_err(unavailable)?;
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(unavailable)?;
        Ok(Box::new(KafkaSubscription {
            consumer: Some(consumer),
        }))
    }

    async fn ready(&self) -> Result<(), BusError> {
        let producer = self.producer();
        let timeout = self.publish_timeout.min(Duration::from_secs(3));
        // librdkafka's metadata call blocks; keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            producer.client().fetch_metadata(None, timeout).map(|_| ())
        })
        .await
        .map_err(unavailable)?
        .map_err(unavailable)
    }
}

/// Dropping it closes the consumer, which commits the stored offsets (auto-commit is on, and an
/// offset is stored only after its event was handled). The close blocks, so it runs on the
/// blocking pool.
struct KafkaSubscription {
    consumer: Option<StreamConsumer>,
}

impl KafkaSubscription {
    fn consumer(&self) -> Result<&StreamConsumer, BusError> {
        self.consumer
            .as_ref()
            .ok_or_else(|| BusError::Unavailable("consumer closed".to_owned()))
    }
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            drop_blocking(consumer);
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            let message = self.consumer()?.recv().await.map_err(unavailable)?;
            let (topic, partition, offset) = (
                message.topic().to_owned(),
                message.partition(),
                message.offset(),
            );
            match message.payload().map(serde_json::from_slice::<Envelope>) {
                Some(Ok(envelope)) => {
                    return Ok(Delivery {
                        envelope,
                        topic,
                        partition,
                        offset,
                    });
                }
                // Not ours to interpret: skip it rather than stall the partition forever.
                other => {
                    tracing::warn!(
                        topic,
                        partition,
                        offset,
                        undecodable = other.is_some(),
                        "skipping a message that is not an event envelope"
                    );
                    self.consumer()?
                        .store_offset(&topic, partition, offset)
                        .map_err(unavailable)?;
                }
            }
        }
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        self.consumer()?
            .store_offset(&delivery.topic, delivery.partition, delivery.offset)
            .map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use rdkafka::mocking::MockCluster;

    use super::*;

    fn bus(cluster: &MockCluster<'_, rdkafka::producer::DefaultProducerContext>) -> KafkaBus {
        KafkaBus::new(&KafkaConfig {
            brokers: cluster.bootstrap_servers(),
            topic_prefix: "t.".to_owned(),
            // The mock cluster does not answer CreateTopics; keep that wait short.
            publish_timeout_ms: 1_000,
        })
        .expect("bus")
    }

    fn event(subject: &str) -> Envelope {
        Envelope::new(
            "test",
            "thing.happened",
            subject,
            None,
            serde_json::json!({}),
        )
    }

    #[tokio::test]
    async fn a_group_resumes_after_its_last_acknowledged_event() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("t.events", 1, 1).expect("topic");
        let bus = bus(&cluster);
        let topics = vec!["t.events".to_owned()];
        for subject in ["a", "b", "c"] {
            bus.publish("t.events", &event(subject))
                .await
                .expect("publish");
        }

        let mut first = bus.subscribe(&topics, "g").await.expect("subscribe");
        let a = first.next().await.expect("a");
        assert_eq!(a.envelope.subject, "a");
        first.ack(&a).expect("ack");
        let b = first.next().await.expect("b");
        assert_eq!(b.envelope.subject, "b");
        // b is not acknowledged: a new member must see it again.
        drop(first);

        let mut second = bus.subscribe(&topics, "g").await.expect("subscribe");
        let again = second.next().await.expect("b again");
        assert_eq!(again.envelope.subject, "b");
        assert_eq!(again.envelope.id, b.envelope.id);
    }

    #[tokio::test]
    async fn a_group_that_joined_before_its_topic_existed_gets_the_first_events() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        let bus = bus(&cluster);
        // The mock cluster refuses CreateTopics, so the subscription starts on a topic that
        // does not exist, as against a broker where creating it failed.
        let mut sub = bus
            .subscribe(&["t.later".to_owned()], "g")
            .await
            .expect("subscribe");
        cluster.create_topic("t.later", 1, 1).expect("topic");
        bus.publish("t.later", &event("first"))
            .await
            .expect("publish");
        let delivered = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                // Until the topic shows up in the metadata the consumer reports it as unknown.
                if let Ok(delivery) = sub.next().await {
                    return delivery;
                }
            }
        })
        .await
        .expect("the event arrives once the topic exists");
        assert_eq!(delivered.envelope.subject, "first");
    }

    #[tokio::test]
    async fn publish_fails_cleanly_when_no_broker_answers() {
        let bus = KafkaBus::new(&KafkaConfig {
            brokers: "127.0.0.1:1".to_owned(),
            topic_prefix: "t.".to_owned(),
            publish_timeout_ms: 500,
        })
        .expect("bus");
        let err = bus
            .publish("t.events", &event("x"))
            .await
            .expect_err("no broker");
        assert!(matches!(err, BusError::Unavailable(_)), "{err:?}");
        assert!(bus.ready().await.is_err());
    }
}
