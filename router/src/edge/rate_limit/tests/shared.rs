//! Budgets shared through Redis, and what happens when Redis fails or comes back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::*;

#[tokio::test]
async fn limiters_sharing_redis_enforce_one_budget() {
    let fixture = Fixture::new(Backend::Redis);
    let (first, second) = (fixture.limiter(PER_USER_5), fixture.limiter(PER_USER_5));
    let mut allowed = 0;
    for n in 0..12 {
        let limiter = if n % 2 == 0 { &first } else { &second };
        if is_allowed(&user("alice").send(limiter).await) {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

#[tokio::test]
async fn in_process_limiters_keep_their_own_budgets() {
    let fixture = Fixture::new(Backend::InProcess);
    let (first, second) = (fixture.limiter(PER_USER_5), fixture.limiter(PER_USER_5));
    for _ in 0..5 {
        assert!(is_allowed(&user("alice").send(&first).await));
    }
    assert!(is_allowed(&user("alice").send(&second).await));
}

#[tokio::test]
async fn first_requests_wait_for_the_connection_being_made() {
    let limiter = Fixture::new(Backend::Redis).limiter(
        "
rules:
  - name: per-user
    key: claim:sub
    limit: 100
    period_secs: 60
",
    );
    let requests: Vec<_> = (0..20).map(|_| user("alice")).collect();
    let decisions =
        futures::future::join_all(requests.iter().map(|request| request.send(&limiter))).await;
    for decision in decisions {
        assert!(
            matches!(decision, Decision::Allowed(Some(_))),
            "{decision:?}"
        );
    }
}

/// Redis on a closed port, with the given policy.
fn unreachable(policy: &str) -> RateLimiter {
    let yaml = format!("on_store_failure: {policy}\n{PER_USER_5}");
    let store = RateLimitStore::Redis(RedisRateLimitStore {
        url: RedisUrl::new("redis://127.0.0.1:1"),
        key_prefix: unique_prefix(),
        timeout_ms: 50,
    });
    RateLimiter::new(&config(&yaml, store)).expect("a down Redis is no config error")
}

async fn timed(limiter: &RateLimiter) -> Decision {
    let started = tokio::time::Instant::now();
    let decision = user("alice").send(limiter).await;
    // A guard against hanging, not a performance assertion.
    assert!(started.elapsed() < Duration::from_secs(2));
    decision
}

#[tokio::test]
async fn unreachable_redis_allows_when_open() {
    let limiter = unreachable("open");
    for _ in 0..3 {
        assert_eq!(timed(&limiter).await, Decision::Allowed(None));
    }
}

#[tokio::test]
async fn unreachable_redis_refuses_when_closed() {
    let limiter = unreachable("closed");
    for _ in 0..3 {
        assert_eq!(timed(&limiter).await, Decision::Unavailable);
    }
}

#[tokio::test]
async fn silent_redis_counts_as_down() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let yaml = format!("on_store_failure: closed\n{PER_USER_5}");
    let store = RateLimitStore::Redis(RedisRateLimitStore {
        url: RedisUrl::new(format!("redis://{address}")),
        key_prefix: unique_prefix(),
        timeout_ms: 50,
    });
    let limiter = RateLimiter::new(&config(&yaml, store)).expect("valid config");
    for _ in 0..3 {
        assert_eq!(timed(&limiter).await, Decision::Unavailable);
    }
    hold.abort();
}

/// A TCP proxy to Redis that can refuse connections and cut the ones it carries.
struct FlakyProxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl FlakyProxy {
    async fn start(upstream: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let up = Arc::new(AtomicBool::new(true));
        let links = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn({
            let (up, links) = (up.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue;
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().expect("not poisoned").push(link);
                }
            }
        });
        Self {
            address,
            up,
            links,
            accept,
        }
    }

    fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for link in self.links.lock().expect("not poisoned").drain(..) {
                link.abort();
            }
        }
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.set_up(false);
        self.accept.abort();
    }
}

#[tokio::test]
async fn redis_that_comes_back_is_used_again() {
    let url = redis_url();
    let info: ::redis::ConnectionInfo = url.parse().expect("valid test Redis URL");
    let ::redis::ConnectionAddr::Tcp(host, port) = info.addr else {
        panic!("the test Redis must be reached over TCP");
    };
    let proxy = FlakyProxy::start((host.clone(), port)).await;
    let proxied = url.replacen(&format!("{host}:{port}"), &proxy.address.to_string(), 1);
    assert_ne!(proxied, url, "the test Redis URL must name its port");
    let store = redis_store(&proxied, &unique_prefix());
    let limiter = RateLimiter::new(&config(PER_USER_5, store)).expect("valid config");

    assert_eq!(remaining(&timed(&limiter).await), 4);
    proxy.set_up(false);
    assert_eq!(timed(&limiter).await, Decision::Allowed(None), "open");
    assert_eq!(timed(&limiter).await, Decision::Allowed(None), "open");
    proxy.set_up(true);
    // Readiness probe: the limiter reconnects once its backoff has passed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Decision::Allowed(Some(budget)) = timed(&limiter).await {
            assert_eq!(
                budget.remaining, 3,
                "the budget kept in Redis is used again"
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn store_failures_are_logged_at_most_once_per_interval() {
    let mut warnings = Warnings::default();
    let start = Instant::now();
    assert_eq!(warnings.admit(start), Some(0));
    for n in 1..=3 {
        assert_eq!(warnings.admit(start + Duration::from_secs(n)), None);
    }
    assert_eq!(warnings.admit(start + WARN_EVERY), Some(3));
    assert_eq!(warnings.admit(start + WARN_EVERY), None);
}
