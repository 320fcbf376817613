//! The live feed: each service instance tails the topics it streams once, from the moment it
//! starts, and fans every event out to its local subscribers (GraphQL subscription streams).
//!
//! - The tail is no consumer group: every instance sees every event, and no group's progress
//!   moves. Delivery is live only: a subscriber receives what is published after it subscribed,
//!   and nothing is replayed.
//! - Every subscriber has its own bounded buffer. One that falls further behind than
//!   [`LiveConfig::subscriber_buffer`] events is dropped: its stream ends with a
//!   `SUBSCRIBER_TOO_SLOW` error, and nobody else waits for it.
//! - Each subscriber filters (and loads what it shows) on its own side; the feed does no work
//!   per subscriber.
//! - When the broker cannot be reached, the feed is down: open streams end with a
//!   `SERVICE_UNAVAILABLE` error and new ones are refused with it, so no subscriber waits
//!   silently on a feed that delivers nothing; the tail retries with back-off and the feed is
//!   up again once the broker answers. A read error while the broker answers (a dropped
//!   connection the client re-establishes) is not an outage: the tail resumes where it was.
//! - Streams end when the service shuts down.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use super::{Envelope, EventBus, Tail};
use crate::config::LiveConfig;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::tasks::Tasks;

/// How long start-up waits for the first tail before the service serves with the feed down.
const FIRST_TAIL_WAIT: Duration = Duration::from_secs(10);
/// The first pause after a failure; it doubles up to the configured maximum.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// One instance's fan-out of the events of its topics. Clones share one feed.
#[derive(Clone)]
pub struct LiveFeed {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    sender: broadcast::Sender<Feed>,
    up: AtomicBool,
    events: AtomicU64,
    too_slow: AtomicU64,
    interrupted: AtomicU64,
    cancel: CancellationToken,
}

/// What subscribers receive.
#[derive(Clone)]
enum Feed {
    Event(Arc<Envelope>),
    /// The broker is gone: every open stream ends.
    Interrupted,
}

impl LiveFeed {
    /// Starts tailing `topics` on `bus` as a task of `tasks`. Returns once the tail is in place,
    /// so an event published after the service is ready reaches its subscribers; when the
    /// broker does not answer in time, it returns with the feed down and keeps trying.
    pub async fn start(
        service: &'static str,
        bus: Arc<dyn EventBus>,
        topics: Vec<String>,
        config: &LiveConfig,
        tasks: &Tasks,
    ) -> Self {
        let (sender, _) = broadcast::channel(config.subscriber_buffer.max(1));
        let feed = Self {
            inner: Arc::new(Inner {
                service,
                sender,
                up: AtomicBool::new(false),
                events: AtomicU64::new(0),
                too_slow: AtomicU64::new(0),
                interrupted: AtomicU64::new(0),
                cancel: tasks.token(),
            }),
        };
        let first = match tokio::time::timeout(FIRST_TAIL_WAIT, bus.tail(&topics)).await {
            Ok(Ok(tail)) => Some(tail),
            Ok(Err(err)) => {
                tracing::warn!(service, error = %err, "live feed cannot tail its topics yet; retrying");
                None
            }
            Err(_) => {
                tracing::warn!(service, "live feed cannot tail its topics yet; retrying");
                None
            }
        };
        if first.is_some() {
            feed.inner.up.store(true, Ordering::SeqCst);
        }
        let backoff = Backoff::new(Duration::from_millis(config.max_backoff_ms));
        tasks.spawn(
            "live-feed",
            feed.clone().run(bus, topics, first, backoff, tasks.token()),
        );
        feed
    }

    /// A subscriber's stream: each event the feed receives from now on goes through `select`,
    /// which yields the item to send (`Ok(Some)`), skips the event (`Ok(None)`), or fails for
    /// this event only (`Err`, sent as an error while the stream goes on). The stream ends with
    /// an error when the subscriber falls behind or the feed goes down, and without one when the
    /// service shuts down.
    pub fn stream<T, F, Fut>(
        &self,
        select: F,
    ) -> impl Stream<Item = async_graphql::Result<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnMut(Arc<Envelope>) -> Fut + Send + 'static,
        Fut: Future<Output = ApiResult<Option<T>>> + Send,
    {
        // Subscribe before looking at the state: an interruption after the look still reaches
        // this receiver.
        let receiver = self.inner.sender.subscribe();
        let first = if self.inner.up.load(Ordering::SeqCst) {
            Step::Open(Subscriber {
                receiver,
                select,
                feed: self.inner.clone(),
            })
        } else {
            Step::Refused(unavailable())
        };
        futures::stream::unfold(first, |step| async move {
            match step {
                Step::Ended => None,
                Step::Refused(err) => Some((Err(err.into()), Step::Ended)),
                Step::Open(mut subscriber) => match subscriber.next().await? {
                    Ok(item) => Some((item, Step::Open(subscriber))),
                    Err(Last(err)) => Some((Err(err.into()), Step::Ended)),
                },
            }
        })
    }

    /// Open subscriber streams.
    pub fn subscribers(&self) -> usize {
        self.inner.sender.receiver_count()
    }

    /// Whether the tail is in place and the broker answers.
    pub fn is_up(&self) -> bool {
        self.inner.up.load(Ordering::SeqCst)
    }

    /// Appends this instance's feed metrics in the Prometheus text format. They belong to the
    /// instance, like its statement counters, since several services may share a process.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write as _;
        let inner = &self.inner;
        let service = inner.service;
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "# HELP tessera_live_subscribers Live subscriptions open on this service instance.\n\
             # TYPE tessera_live_subscribers gauge\n\
             tessera_live_subscribers{{service=\"{service}\"}} {}\n\
             # HELP tessera_live_up Whether this instance's live feed is receiving events.\n\
             # TYPE tessera_live_up gauge\n\
             tessera_live_up{{service=\"{service}\"}} {}\n\
             # HELP tessera_live_events_total Events this instance's live feed received.\n\
             # TYPE tessera_live_events_total counter\n\
             tessera_live_events_total{{service=\"{service}\"}} {}\n\
             # HELP tessera_live_dropped_total Live subscriptions ended by the feed, by reason.\n\
             # TYPE tessera_live_dropped_total counter\n\
             tessera_live_dropped_total{{service=\"{service}\",reason=\"too_slow\"}} {}\n\
             tessera_live_dropped_total{{service=\"{service}\",reason=\"interrupted\"}} {}",
            self.subscribers(),
            u8::from(self.is_up()),
            inner.events.load(Ordering::Relaxed),
            inner.too_slow.load(Ordering::Relaxed),
            inner.interrupted.load(Ordering::Relaxed),
        );
    }

    async fn run(
        self,
        bus: Arc<dyn EventBus>,
        topics: Vec<String>,
        first: Option<Box<dyn Tail>>,
        mut backoff: Backoff,
        cancel: CancellationToken,
    ) -> anyhow::Result<()> {
        let service = self.inner.service;
        let mut tail = match first {
            Some(tail) => tail,
            None => loop {
                tokio::select! {
                    () = cancel.cancelled() => return Ok(()),
                    tail = bus.tail(&topics) => match tail {
                        Ok(tail) => break tail,
                        Err(err) => {
                            tracing::warn!(service, error = %err, "live feed cannot tail its topics yet; retrying");
                            backoff.wait(&cancel).await;
                        }
                    }
                }
            },
        };
        backoff.reset();
        self.inner.up.store(true, Ordering::SeqCst);
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                next = tail.next() => next,
            };
            match next {
                Ok(delivery) => {
                    backoff.reset();
                    self.inner.events.fetch_add(1, Ordering::Relaxed);
                    // No subscriber is no error: the event was for nobody.
                    let _ = self
                        .inner
                        .sender
                        .send(Feed::Event(Arc::new(delivery.envelope)));
                }
                Err(err) => {
                    tracing::warn!(service, error = %err, "live feed cannot read");
                    if bus.ready().await.is_err() {
                        self.interrupt();
                        while bus.ready().await.is_err() {
                            if !backoff.wait(&cancel).await {
                                return Ok(());
                            }
                        }
                        tracing::info!(service, "live feed is back");
                        self.inner.up.store(true, Ordering::SeqCst);
                    } else if !backoff.wait(&cancel).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Marks the feed down and ends every open stream.
    fn interrupt(&self) {
        if self.inner.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                service = self.inner.service,
                subscribers = self.subscribers(),
                "the broker does not answer: live subscriptions end until it does"
            );
            let _ = self.inner.sender.send(Feed::Interrupted);
        }
    }
}

fn unavailable() -> ApiError {
    ApiError::client(
        ErrorCode::ServiceUnavailable,
        "live events are unavailable right now; subscribe again shortly",
    )
}

fn too_slow() -> ApiError {
    ApiError::client(
        ErrorCode::SubscriberTooSlow,
        "the subscription fell too far behind its events and was ended; subscribe again",
    )
}

enum Step<F> {
    Refused(ApiError),
    Open(Subscriber<F>),
    Ended,
}

/// The error that ends a stream.
struct Last(ApiError);

struct Subscriber<F> {
    receiver: broadcast::Receiver<Feed>,
    select: F,
    feed: Arc<Inner>,
}

impl<F> Subscriber<F> {
    /// The next item: `Ok(Ok)` to send, `Ok(Err)` an error to send while the stream goes on,
    /// `Err(Last)` the error that ends it, `None` the end without an error.
    async fn next<T, Fut>(&mut self) -> Option<Result<async_graphql::Result<T>, Last>>
    where
        F: FnMut(Arc<Envelope>) -> Fut,
        Fut: Future<Output = ApiResult<Option<T>>>,
    {
        loop {
            let received = tokio::select! {
                biased;
                () = self.feed.cancel.cancelled() => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(Feed::Event(event)) => match (self.select)(event).await {
                    Ok(Some(item)) => return Some(Ok(Ok(item))),
                    Ok(None) => {}
                    Err(err) => return Some(Ok(Err(err.into()))),
                },
                Ok(Feed::Interrupted) => {
                    self.feed.interrupted.fetch_add(1, Ordering::Relaxed);
                    return Some(Err(Last(unavailable())));
                }
                Err(RecvError::Lagged(missed)) => {
                    self.feed.too_slow.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        service = self.feed.service,
                        missed,
                        "dropped a live subscriber that fell behind"
                    );
                    return Some(Err(Last(too_slow())));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// A pause that doubles after each failure, up to a maximum.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max: Duration) -> Self {
        Self {
            next: MIN_BACKOFF.min(max),
            max,
        }
    }

    fn reset(&mut self) {
        self.next = MIN_BACKOFF.min(self.max);
    }

    /// Sleeps; false when `cancel` fired meanwhile.
    async fn wait(&mut self, cancel: &CancellationToken) -> bool {
        let pause = self.next;
        self.next = (self.next * 2).min(self.max);
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(pause) => true,
        }
    }
}

#[cfg(test)]
mod tests;
