use std::pin::pin;

use futures::StreamExt as _;

use super::*;
use crate::events::{BusError, MemoryBus, Subscription};

fn event(kind: &str, subject: &str) -> Envelope {
    Envelope::new("test", kind, subject, None, serde_json::json!({}))
}

async fn feed(bus: &MemoryBus, buffer: usize, tasks: &Tasks) -> LiveFeed {
    let config = LiveConfig {
        subscriber_buffer: buffer,
        ..LiveConfig::default()
    };
    let bus: Arc<dyn EventBus> = Arc::new(bus.clone());
    LiveFeed::start("test", bus, vec!["t".to_owned()], &config, tasks).await
}

fn code(err: &async_graphql::Error) -> Option<String> {
    match err.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.clone()),
        _ => None,
    }
}

/// The next item, or a failure when none arrives soon.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an item in time")
}

#[tokio::test]
async fn each_subscriber_receives_what_its_filter_selects_from_events_after_the_start() {
    let (bus, tasks) = (MemoryBus::new(), Tasks::new());
    bus.publish("t", &event("a.x", "before"))
        .await
        .expect("publish");
    let feed = feed(&bus, 16, &tasks).await;
    let kinds = |kind: &'static str| {
        feed.stream(move |e: Arc<Envelope>| async move {
            Ok((e.kind == kind).then(|| e.subject.clone()))
        })
    };
    let mut a = pin!(kinds("a.x"));
    let mut b = pin!(kinds("b.x"));
    assert_eq!(feed.subscribers(), 2);
    for (kind, subject) in [("a.x", "1"), ("b.x", "2"), ("a.x", "3")] {
        bus.publish("t", &event(kind, subject))
            .await
            .expect("publish");
    }
    assert_eq!(next(&mut a).await.expect("item").expect("ok"), "1");
    assert_eq!(next(&mut a).await.expect("item").expect("ok"), "3");
    assert_eq!(next(&mut b).await.expect("item").expect("ok"), "2");
    tasks.shutdown(Duration::from_secs(1)).await;
    assert!(next(&mut a).await.is_none(), "shutdown ends the stream");
}

#[tokio::test]
async fn an_error_for_one_event_is_sent_and_the_stream_goes_on() {
    let (bus, tasks) = (MemoryBus::new(), Tasks::new());
    let feed = feed(&bus, 16, &tasks).await;
    let mut stream = pin!(feed.stream(|e: Arc<Envelope>| async move {
        if e.subject == "bad" {
            Err(ApiError::not_found("gone"))
        } else {
            Ok(Some(e.subject.clone()))
        }
    }));
    bus.publish("t", &event("a.x", "bad"))
        .await
        .expect("publish");
    bus.publish("t", &event("a.x", "good"))
        .await
        .expect("publish");
    let err = next(&mut stream).await.expect("item").expect_err("error");
    assert_eq!(code(&err).as_deref(), Some("NOT_FOUND"));
    assert_eq!(next(&mut stream).await.expect("item").expect("ok"), "good");
    tasks.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_slow_subscriber_is_dropped_while_a_fast_one_keeps_receiving() {
    let (bus, tasks) = (MemoryBus::new(), Tasks::new());
    let feed = feed(&bus, 4, &tasks).await;
    let subjects = || feed.stream(|e: Arc<Envelope>| async move { Ok(Some(e.subject.clone())) });
    let mut fast = pin!(subjects());
    let mut slow = pin!(subjects());
    // The fast one reads each event as it comes; the slow one reads nothing meanwhile.
    for n in 0..20 {
        bus.publish("t", &event("a.x", &n.to_string()))
            .await
            .expect("publish");
        assert_eq!(
            next(&mut fast).await.expect("item").expect("ok"),
            n.to_string()
        );
    }
    let err = next(&mut slow).await.expect("item").expect_err("dropped");
    assert_eq!(code(&err).as_deref(), Some("SUBSCRIBER_TOO_SLOW"));
    assert!(next(&mut slow).await.is_none(), "the slow stream ends");
    assert_eq!(feed.subscribers(), 1);
    bus.publish("t", &event("a.x", "after"))
        .await
        .expect("publish");
    assert_eq!(next(&mut fast).await.expect("item").expect("ok"), "after");
    let mut metrics = String::new();
    feed.render(&mut metrics);
    assert!(
        metrics.contains("tessera_live_dropped_total{service=\"test\",reason=\"too_slow\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tessera_live_subscribers{service=\"test\"} 1\n"),
        "{metrics}"
    );
    tasks.shutdown(Duration::from_secs(1)).await;
}

/// A bus whose broker is gone: nothing can be tailed and it is never ready.
struct Unreachable;

#[async_trait::async_trait]
impl EventBus for Unreachable {
    async fn publish(&self, _: &str, _: &Envelope) -> Result<(), BusError> {
        Err(BusError::Unavailable("down".to_owned()))
    }

    async fn subscribe(&self, _: &[String], _: &str) -> Result<Box<dyn Subscription>, BusError> {
        Err(BusError::Unavailable("down".to_owned()))
    }

    async fn tail(&self, _: &[String]) -> Result<Box<dyn Tail>, BusError> {
        Err(BusError::Unavailable("down".to_owned()))
    }

    async fn ready(&self) -> Result<(), BusError> {
        Err(BusError::Unavailable("down".to_owned()))
    }
}

#[tokio::test]
async fn subscribing_while_the_broker_is_unreachable_fails_at_once() {
    let tasks = Tasks::new();
    let feed = LiveFeed::start(
        "test",
        Arc::new(Unreachable),
        vec!["t".to_owned()],
        &LiveConfig::default(),
        &tasks,
    )
    .await;
    assert!(!feed.is_up());
    let mut stream =
        pin!(feed.stream(|e: Arc<Envelope>| async move { Ok(Some(e.subject.clone())) }));
    let err = next(&mut stream).await.expect("item").expect_err("refused");
    assert_eq!(code(&err).as_deref(), Some("SERVICE_UNAVAILABLE"));
    assert!(next(&mut stream).await.is_none());
    tasks.shutdown(Duration::from_secs(1)).await;
}

/// The in-process bus behind a switch: while `down` is set, tails fail and the bus is not ready.
struct Switched {
    bus: MemoryBus,
    down: tokio::sync::watch::Receiver<bool>,
}

struct SwitchedTail {
    inner: Box<dyn Tail>,
    down: tokio::sync::watch::Receiver<bool>,
}

#[async_trait::async_trait]
impl Tail for SwitchedTail {
    async fn next(&mut self) -> Result<crate::events::Delivery, BusError> {
        let gone = || BusError::Unavailable("down".to_owned());
        if *self.down.borrow() {
            return Err(gone());
        }
        tokio::select! {
            delivery = self.inner.next() => delivery,
            _ = self.down.wait_for(|down| *down) => Err(gone()),
        }
    }
}

#[async_trait::async_trait]
impl EventBus for Switched {
    async fn publish(&self, topic: &str, event: &Envelope) -> Result<(), BusError> {
        self.bus.publish(topic, event).await
    }

    async fn subscribe(
        &self,
        topics: &[String],
        group: &str,
    ) -> Result<Box<dyn Subscription>, BusError> {
        self.bus.subscribe(topics, group).await
    }

    async fn tail(&self, topics: &[String]) -> Result<Box<dyn Tail>, BusError> {
        Ok(Box::new(SwitchedTail {
            inner: self.bus.tail(topics).await?,
            down: self.down.clone(),
        }))
    }

    async fn ready(&self) -> Result<(), BusError> {
        if *self.down.borrow() {
            Err(BusError::Unavailable("down".to_owned()))
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn an_outage_ends_open_streams_and_the_feed_comes_back_with_the_broker() {
    let (bus, tasks) = (MemoryBus::new(), Tasks::new());
    let (switch, down) = tokio::sync::watch::channel(false);
    let config = LiveConfig {
        max_backoff_ms: 20,
        ..LiveConfig::default()
    };
    let switched: Arc<dyn EventBus> = Arc::new(Switched {
        bus: bus.clone(),
        down,
    });
    let feed = LiveFeed::start("test", switched, vec!["t".to_owned()], &config, &tasks).await;
    let subjects = || feed.stream(|e: Arc<Envelope>| async move { Ok(Some(e.subject.clone())) });
    let mut open = pin!(subjects());
    bus.publish("t", &event("a.x", "1")).await.expect("publish");
    assert_eq!(next(&mut open).await.expect("item").expect("ok"), "1");

    switch.send_replace(true);
    let err = next(&mut open).await.expect("item").expect_err("ended");
    assert_eq!(code(&err).as_deref(), Some("SERVICE_UNAVAILABLE"));
    assert!(next(&mut open).await.is_none());
    assert!(!feed.is_up());

    switch.send_replace(false);
    let back = tokio::time::timeout(Duration::from_secs(5), async {
        while !feed.is_up() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(back.is_ok(), "the feed is up again");
    let mut again = pin!(subjects());
    bus.publish("t", &event("a.x", "2")).await.expect("publish");
    assert_eq!(next(&mut again).await.expect("item").expect("ok"), "2");
    tasks.shutdown(Duration::from_secs(1)).await;
}
