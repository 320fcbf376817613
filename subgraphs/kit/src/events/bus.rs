//! The event bus trait and its in-process engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::Envelope;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the broker is unavailable: {0}")]
    Unavailable(String),
    #[error("the event could not be encoded: {0}")]
    Encode(#[from] serde_json::Error),
}

/// One received event and where it came from, so it can be acknowledged.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub envelope: Envelope,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Publishes events to topics and hands them to consumer groups: every group sees every event
/// of its topics at least once, in order per partition. Tails follow topics outside any group.
#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Publishes and waits until the broker has it.
    async fn publish(&self, topic: &str, event: &Envelope) -> Result<(), BusError>;
    /// Joins consumer group `group` on `topics`.
    async fn subscribe(
        &self,
        topics: &[String],
        group: &str,
    ) -> Result<Box<dyn Subscription>, BusError>;
    /// Follows `topics` from their current end: once this returns, the tail receives every
    /// event published to them afterwards. It joins no consumer group and stores no progress,
    /// so it takes nothing from any group and holds none of them back. Missing topics are
    /// created, as [`EventBus::subscribe`] creates them.
    async fn tail(&self, topics: &[String]) -> Result<Box<dyn Tail>, BusError>;
    /// Whether the broker answers.
    async fn ready(&self) -> Result<(), BusError>;
}

/// A consumer group membership.
#[async_trait]
pub trait Subscription: Send {
    /// Waits for the next event.
    async fn next(&mut self) -> Result<Delivery, BusError>;
    /// Marks `delivery` (and everything before it on its partition) as consumed by the group.
    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError>;
}

/// A reader of topics from a point on, outside any consumer group; nothing to acknowledge.
#[async_trait]
pub trait Tail: Send {
    /// Waits for the next event.
    async fn next(&mut self) -> Result<Delivery, BusError>;
}

/// The in-process engine: a log per topic and a committed offset per group, shared by every
/// service of one process (clones share one log). Used when no broker is configured. An event
/// is kept until every group that has joined its topic has acknowledged it; tails hold back at
/// most the newest [`TAIL_RETENTION`] events for themselves.
#[derive(Clone, Default)]
pub struct MemoryBus {
    inner: Arc<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    state: Mutex<MemoryState>,
    notify: Notify,
}

#[derive(Default)]
struct MemoryState {
    topics: HashMap<String, TopicLog>,
    committed: HashMap<(String, String), usize>,
    /// Where each open tail reads, by (tail, topic).
    tails: HashMap<(u64, String), usize>,
    next_tail: u64,
}

/// Events kept on a topic that no consumer group has joined yet.
const UNCONSUMED_RETENTION: usize = 10_000;

/// The most events a tail that has not read them keeps from being trimmed: a reader who falls
/// further behind loses the oldest, as on a broker whose retention ran out, and never holds a
/// log's memory.
pub const TAIL_RETENTION: usize = 1_000;

/// Events of one topic; `base` is the offset of the first one still kept.
#[derive(Default)]
struct TopicLog {
    base: usize,
    events: std::collections::VecDeque<Envelope>,
}

impl TopicLog {
    fn get(&self, offset: usize) -> Option<(usize, &Envelope)> {
        let at = offset.max(self.base);
        self.events.get(at - self.base).map(|e| (at, e))
    }
}

impl MemoryState {
    /// Drops the events of `topic` that every joined group has acknowledged; on a topic no group
    /// has joined, keeps the newest [`UNCONSUMED_RETENTION`] for a group that joins later. Events
    /// an open tail has not read yet stay too, the newest [`TAIL_RETENTION`] at most.
    fn trim(&mut self, topic: &str) {
        let low = self
            .committed
            .iter()
            .filter(|((_, t), _)| t == topic)
            .map(|(_, at)| *at)
            .min();
        let tail_low = self
            .tails
            .iter()
            .filter(|((_, t), _)| t == topic)
            .map(|(_, at)| *at)
            .min();
        if let Some(log) = self.topics.get_mut(topic) {
            let end = log.base + log.events.len();
            let mut keep_from = low.unwrap_or_else(|| end.saturating_sub(UNCONSUMED_RETENTION));
            if let Some(tail_low) = tail_low {
                keep_from = keep_from.min(tail_low.max(end.saturating_sub(TAIL_RETENTION)));
            }
            while log.base < keep_from && log.events.pop_front().is_some() {
                log.base += 1;
            }
        }
    }
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        // A panic while holding this lock cannot leave the log half-written: every mutation is
        // a single push or insert.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn publish(&self, topic: &str, event: &Envelope) -> Result<(), BusError> {
        let mut state = self.lock();
        state
            .topics
            .entry(topic.to_owned())
            .or_default()
            .events
            .push_back(event.clone());
        state.trim(topic);
        drop(state);
        self.inner.notify.notify_waiters();
        Ok(())
    }

    async fn subscribe(
        &self,
        topics: &[String],
        group: &str,
    ) -> Result<Box<dyn Subscription>, BusError> {
        let mut state = self.lock();
        let cursors = topics
            .iter()
            .map(|t| {
                // Joining registers the group, so nothing it has not seen is trimmed.
                let at = *state
                    .committed
                    .entry((group.to_owned(), t.clone()))
                    .or_insert(0);
                (t.clone(), at)
            })
            .collect();
        Ok(Box::new(MemorySubscription {
            reader: Reader {
                bus: self.clone(),
                cursors,
                tail: None,
            },
            group: group.to_owned(),
        }))
    }

    async fn tail(&self, topics: &[String]) -> Result<Box<dyn Tail>, BusError> {
        let mut state = self.lock();
        let id = state.next_tail;
        state.next_tail += 1;
        let cursors: Vec<(String, usize)> = topics
            .iter()
            .map(|t| {
                let log = state.topics.entry(t.clone()).or_default();
                (t.clone(), log.base + log.events.len())
            })
            .collect();
        for (topic, at) in &cursors {
            state.tails.insert((id, topic.clone()), *at);
        }
        Ok(Box::new(Reader {
            bus: self.clone(),
            cursors,
            tail: Some(id),
        }))
    }

    async fn ready(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// Reads topics from per-topic cursors; a tail's cursors are also kept in the shared state, so
/// trimming spares what it has not read yet.
struct Reader {
    bus: MemoryBus,
    cursors: Vec<(String, usize)>,
    /// The tail's id, for a tail.
    tail: Option<u64>,
}

impl Reader {
    fn poll(&mut self) -> Option<Delivery> {
        let mut state = self.bus.lock();
        for (topic, cursor) in &mut self.cursors {
            if let Some((at, event)) = state
                .topics
                .get(topic.as_str())
                .and_then(|log| log.get(*cursor))
            {
                let delivery = Delivery {
                    envelope: event.clone(),
                    topic: topic.clone(),
                    partition: 0,
                    offset: i64::try_from(at).unwrap_or(i64::MAX),
                };
                *cursor = at + 1;
                if let Some(id) = self.tail {
                    state.tails.insert((id, topic.clone()), *cursor);
                }
                return Some(delivery);
            }
        }
        None
    }

    async fn next(&mut self) -> Delivery {
        loop {
            let inner = Arc::clone(&self.bus.inner);
            let notified = inner.notify.notified();
            if let Some(delivery) = self.poll() {
                return delivery;
            }
            notified.await;
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(id) = self.tail {
            let mut state = self.bus.lock();
            state.tails.retain(|(tail, _), _| *tail != id);
        }
    }
}

#[async_trait]
impl Tail for Reader {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        Ok(Reader::next(self).await)
    }
}

struct MemorySubscription {
    reader: Reader,
    group: String,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Delivery, BusError> {
        Ok(self.reader.next().await)
    }

    fn ack(&mut self, delivery: &Delivery) -> Result<(), BusError> {
        let next = usize::try_from(delivery.offset).unwrap_or(0) + 1;
        let mut state = self.reader.bus.lock();
        let slot = state
            .committed
            .entry((self.group.clone(), delivery.topic.clone()))
            .or_default();
        *slot = (*slot).max(next);
        state.trim(&delivery.topic);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> Envelope {
        Envelope::new(
            "test",
            "thing.happened",
            n.to_string(),
            None,
            serde_json::json!({ "n": n }),
        )
    }

    #[tokio::test]
    async fn each_group_sees_every_event_and_resumes_after_ack() {
        let bus = MemoryBus::new();
        let topics = vec!["t".to_owned()];
        bus.publish("t", &event(1)).await.expect("publish");
        bus.publish("t", &event(2)).await.expect("publish");

        let mut a = bus.subscribe(&topics, "a").await.expect("subscribe");
        let mut b = bus.subscribe(&topics, "b").await.expect("subscribe");
        let first = a.next().await.expect("next");
        assert_eq!(first.envelope.subject, "1");
        a.ack(&first).expect("ack");
        drop(a);

        // A new member of group a resumes after the acknowledged event.
        let mut a2 = bus.subscribe(&topics, "a").await.expect("subscribe");
        assert_eq!(a2.next().await.expect("next").envelope.subject, "2");

        // Group b, which joined before, still gets everything from the start.
        assert_eq!(b.next().await.expect("next").envelope.subject, "1");
    }

    #[tokio::test]
    async fn keeps_events_until_every_joined_group_acknowledged_them() {
        let bus = MemoryBus::new();
        let topics = vec!["t".to_owned()];
        let mut a = bus.subscribe(&topics, "a").await.expect("subscribe");
        let mut b = bus.subscribe(&topics, "b").await.expect("subscribe");
        for n in 1..=3 {
            bus.publish("t", &event(n)).await.expect("publish");
        }
        for _ in 0..3 {
            let d = a.next().await.expect("next");
            a.ack(&d).expect("ack");
        }
        // Group b has acknowledged nothing: all three stay.
        assert_eq!(bus.lock().topics["t"].events.len(), 3);
        let first = b.next().await.expect("next");
        assert_eq!(first.envelope.subject, "1");
        b.ack(&first).expect("ack");
        assert_eq!(bus.lock().topics["t"].events.len(), 2);
        // Offsets stay absolute after trimming.
        let second = b.next().await.expect("next");
        assert_eq!((second.offset, second.envelope.subject.as_str()), (1, "2"));
    }

    #[tokio::test]
    async fn waiting_subscriber_wakes_on_publish() {
        let bus = MemoryBus::new();
        let mut sub = bus
            .subscribe(&["t".to_owned()], "g")
            .await
            .expect("subscribe");
        let waiter = tokio::spawn(async move { sub.next().await.map(|d| d.envelope.subject) });
        tokio::task::yield_now().await;
        bus.publish("t", &event(7)).await.expect("publish");
        assert_eq!(waiter.await.expect("join").expect("next"), "7");
    }

    #[tokio::test]
    async fn a_tail_reads_only_what_is_published_after_it_started() {
        let bus = MemoryBus::new();
        bus.publish("t", &event(1)).await.expect("publish");
        let mut tail = bus.tail(&["t".to_owned()]).await.expect("tail");
        bus.publish("t", &event(2)).await.expect("publish");
        bus.publish("t", &event(3)).await.expect("publish");
        assert_eq!(tail.next().await.expect("next").envelope.subject, "2");
        assert_eq!(tail.next().await.expect("next").envelope.subject, "3");
    }

    #[tokio::test]
    async fn a_tail_is_no_consumer_group() {
        let bus = MemoryBus::new();
        let topics = vec!["t".to_owned()];
        let mut group = bus.subscribe(&topics, "g").await.expect("subscribe");
        let mut tail = bus.tail(&topics).await.expect("tail");
        for n in 1..=3 {
            bus.publish("t", &event(n)).await.expect("publish");
        }
        // The tail takes nothing from the group.
        assert_eq!(tail.next().await.expect("next").envelope.subject, "1");
        for n in 1..=3 {
            let d = group.next().await.expect("next");
            assert_eq!(d.envelope.subject, n.to_string());
            group.ack(&d).expect("ack");
        }
        // What the group acknowledged and the tail has read goes; the tail's unread rest stays.
        assert_eq!(bus.lock().topics["t"].events.len(), 2);
        assert_eq!(tail.next().await.expect("next").envelope.subject, "2");
        drop(tail);
        bus.publish("t", &event(4)).await.expect("publish");
        let d = group.next().await.expect("next");
        group.ack(&d).expect("ack");
        assert!(bus.lock().topics["t"].events.is_empty());
    }

    #[tokio::test]
    async fn a_tail_that_stops_reading_holds_back_a_bounded_window() {
        let bus = MemoryBus::new();
        let topics = vec!["t".to_owned()];
        let mut group = bus.subscribe(&topics, "g").await.expect("subscribe");
        let _stalled = bus.tail(&topics).await.expect("tail");
        let total = u32::try_from(TAIL_RETENTION).expect("small") + 10;
        for n in 0..total {
            bus.publish("t", &event(n)).await.expect("publish");
            let d = group.next().await.expect("next");
            group.ack(&d).expect("ack");
        }
        assert_eq!(bus.lock().topics["t"].events.len(), TAIL_RETENTION);
    }
}
