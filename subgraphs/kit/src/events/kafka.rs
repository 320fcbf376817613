//! The Kafka engine: an idempotent producer keyed by subject, consumer groups that store an
//! offset only after the handler succeeded (at-least-once; the inbox makes it exactly-once in
//! effect), and tails that assign every partition at its high watermark.

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::BorrowedMessage;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::{BusError, Delivery, Envelope, EventBus, Subscription, Tail};
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
            consumer: Closing(Some(consumer)),
        }))
    }

    async fn tail(&self, topics: &[String]) -> Result<Box<dyn Tail>, BusError> {
        if let Err(err) = self.ensure_topics(topics).await {
            tracing::debug!(error = %err, "cannot create topics; tailing anyway");
        }
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            // librdkafka assigns partitions only to a consumer with a group id. This one is
            // never joined (no subscribe) and never committed to, so it is a name and nothing
            // more; unique, so no group's progress is ever touched.
            .set("group.id", format!("tail-{}", uuid::Uuid::now_v7()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            // Where a partition's position no longer exists (a broker that lost its data),
            // start again at its end.
            .set("auto.offset.reset", "latest")
            // A live feed wants each event as soon as the broker has it, not once a fetch has
            // waited for more (librdkafka's default wait is 500 ms).
            .set("fetch.wait.max.ms", "20")
            .create()
            .map_err(unavailable)?;
        let topics = topics.to_vec();
        let timeout = self.publish_timeout.min(Duration::from_secs(5));
        // Metadata and watermark requests block, and so does dropping the consumer when they
        // fail: keep both off the async workers.
        let consumer = tokio::task::spawn_blocking(move || {
            let positions = high_watermarks(&consumer, &topics, timeout)?;
            consumer.assign(&positions).map_err(unavailable)?;
            Ok::<_, BusError>(consumer)
        })
        .await
        .map_err(unavailable)??;
        Ok(Box::new(KafkaTail {
            consumer: Closing(Some(consumer)),
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

/// Every partition of `topics` at its high watermark: the offset the next event published to it
/// gets. A topic that has no partitions (yet) is an error, so the caller retries.
fn high_watermarks(
    consumer: &StreamConsumer,
    topics: &[String],
    timeout: Duration,
) -> Result<TopicPartitionList, BusError> {
    let mut list = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(unavailable)?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(BusError::Unavailable(format!(
                "topic {topic} has no partitions yet"
            )));
        }
        for partition in partitions {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, timeout)
                .map_err(unavailable)?;
            list.add_partition_offset(topic, partition, Offset::Offset(high))
                .map_err(unavailable)?;
        }
    }
    Ok(list)
}

/// A consumer that is closed on the blocking pool when dropped: closing waits for librdkafka
/// (for a group member, it also commits the stored offsets).
struct Closing(Option<StreamConsumer>);

impl Closing {
    fn get(&self) -> Result<&StreamConsumer, BusError> {
        self.0
            .as_ref()
            .ok_or_else(|| BusError::Unavailable("consumer closed".to_owned()))
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        if let Some(consumer) = self.0.take() {
            drop_blocking(consumer);
        }
    }
}

/// The event in `message`, or `None` when it holds none (logged, to be skipped rather than stall
/// the partition forever).
fn delivery(message: &BorrowedMessage<'_>) -> Option<Delivery> {
    let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
    match message.payload().map(serde_json::from_slice::<Envelope>) {
        Some(Ok(envelope)) => Some(Delivery {
            envelope,
            topic: topic.to_owned(),
            partition,
            offset,
        }),
        other => {
            tracing::warn!(
                topic,
                partition,
                offset,
                undecodable = other.is_some(),
                "skipping a message that is not an event envelope"
            );
            None
        }
    }
}

/// A group member. Dropping it closes the consumer, which commits the stored offsets
/// (auto-commit is on, and an offset is stored only after its event was handled).
struct KafkaSubscription {
    consumer: Closing,
}

/// Partitions assigned at a position, outside any group; nothing is stored or committed.
struct KafkaTail {
    consumer: Closing,
}

#[async_trait]
impl Tail for KafkaTail {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            let message = self.consumer.get()?.recv().await.map_err(unavailable)?;
            if let Some(delivery) = delivery(&message) {
                return Ok(delivery);
            }
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        loop {
            let consumer = self.consumer.get()?;
            let message = consumer.recv().await.map_err(unavailable)?;
            match delivery(&message) {
                Some(delivery) => return Ok(delivery),
                // Not ours to interpret: acknowledged, so the group moves past it.
                None => consumer
                    .store_offset(message.topic(), message.partition(), message.offset())
                    .map_err(unavailable)?,
            }
        }
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        self.consumer
            .get()?
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
    async fn a_tail_reads_every_partition_from_its_high_watermark() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster.create_topic("t.events", 3, 1).expect("topic");
        let bus = bus(&cluster);
        for subject in ["old-1", "old-2", "old-3", "old-4", "old-5"] {
            bus.publish("t.events", &event(subject))
                .await
                .expect("publish");
        }
        let mut tail = bus.tail(&["t.events".to_owned()]).await.expect("tail");
        // Positioned when `tail` returned: what is published now is what it reads, at once and
        // on every partition, without waiting for a group to form.
        let fresh = ["new-1", "new-2", "new-3", "new-4", "new-5"];
        for subject in fresh {
            bus.publish("t.events", &event(subject))
                .await
                .expect("publish");
        }
        let mut seen = Vec::new();
        while seen.len() < fresh.len() {
            let delivery = tokio::time::timeout(Duration::from_secs(10), tail.next())
                .await
                .expect("an event in time")
                .expect("next");
            seen.push(delivery.envelope.subject);
        }
        seen.sort();
        assert_eq!(seen, fresh);
    }

    #[tokio::test]
    async fn a_tail_of_a_topic_without_partitions_fails_so_it_can_be_retried() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        let bus = bus(&cluster);
        assert!(bus.tail(&["t.missing".to_owned()]).await.is_err());
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
