//! Redis, when configured, and a counter store for throttles with a Redis engine (shared by
//! every instance) and an in-process one (the embedded default).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::RedisConfig;

/// Connects to Redis with bounded connect and response timeouts, so an outage is an error and
/// never a hang.
pub async fn connect(config: &RedisConfig) -> anyhow::Result<ConnectionManager> {
    let client = redis::Client::open(config.url.expose().as_str()).context("invalid REDIS_URL")?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(Duration::from_secs(1))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, manager_config)
        .await
        .context("cannot connect to Redis")
}

/// A counter in a fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Hits in the current window, this one included.
    pub count: u64,
    /// Time until the window resets.
    pub resets_in: Duration,
}

/// Fixed-window counters keyed by string.
#[async_trait]
pub trait Counters: Send + Sync + 'static {
    /// Adds one hit to `key`, opening a window of `window` if none is open.
    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<WindowCount>;
    /// The current count of `key` without adding to it.
    async fn peek(&self, key: &str) -> anyhow::Result<WindowCount>;
    /// Forgets `key`.
    async fn clear(&self, key: &str) -> anyhow::Result<()>;
}

/// Counters in Redis: one budget for every instance.
pub struct RedisCounters {
    conn: ConnectionManager,
    prefix: String,
    script: redis::Script,
}

impl RedisCounters {
    pub fn new(conn: ConnectionManager, prefix: &str) -> Self {
        // INCR and the first PEXPIRE run atomically, so a window can never lose its expiry.
        let script = redis::Script::new(
            "local n = redis.call('INCR', KEYS[1]) \
             if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end \
             return {n, redis.call('PTTL', KEYS[1])}",
        );
        Self {
            conn,
            prefix: format!("{prefix}:count:"),
            script,
        }
    }
}

fn window_from(count: i64, pttl: i64) -> WindowCount {
    WindowCount {
        count: u64::try_from(count).unwrap_or(0),
        resets_in: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
    }
}

#[async_trait]
impl Counters for RedisCounters {
    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<WindowCount> {
        let mut conn = self.conn.clone();
        let (count, pttl): (i64, i64) = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut conn)
            .await?;
        Ok(window_from(count, pttl))
    }

    async fn peek(&self, key: &str) -> anyhow::Result<WindowCount> {
        let mut conn = self.conn.clone();
        let full = format!("{}{key}", self.prefix);
        let (count, pttl): (Option<i64>, i64) = redis::pipe()
            .get(&full)
            .pttl(&full)
            .query_async(&mut conn)
            .await?;
        Ok(window_from(count.unwrap_or(0), pttl))
    }

    async fn clear(&self, key: &str) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        let _: () = redis::cmd("DEL")
            .arg(format!("{}{key}", self.prefix))
            .query_async(&mut conn)
            .await?;
        Ok(())
    }
}

/// Counters in this process: the embedded default.
#[derive(Default)]
pub struct MemoryCounters {
    windows: Mutex<HashMap<String, (u64, Instant)>>,
}

impl MemoryCounters {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, (u64, Instant)>) -> R) -> R {
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        map.retain(|_, (_, ends)| *ends > now);
        f(&mut map)
    }
}

#[async_trait]
impl Counters for MemoryCounters {
    async fn hit(&self, key: &str, window: Duration) -> anyhow::Result<WindowCount> {
        Ok(self.with(|map| {
            let now = Instant::now();
            let slot = map.entry(key.to_owned()).or_insert((0, now + window));
            slot.0 += 1;
            WindowCount {
                count: slot.0,
                resets_in: slot.1.saturating_duration_since(now),
            }
        }))
    }

    async fn peek(&self, key: &str) -> anyhow::Result<WindowCount> {
        Ok(self.with(|map| {
            map.get(key).map_or(
                WindowCount {
                    count: 0,
                    resets_in: Duration::ZERO,
                },
                |(n, ends)| WindowCount {
                    count: *n,
                    resets_in: ends.saturating_duration_since(Instant::now()),
                },
            )
        }))
    }

    async fn clear(&self, key: &str) -> anyhow::Result<()> {
        self.with(|map| map.remove(key));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_window_counts_and_resets() {
        let counters = MemoryCounters::default();
        let w = Duration::from_millis(40);
        assert_eq!(counters.hit("k", w).await.expect("hit").count, 1);
        assert_eq!(counters.hit("k", w).await.expect("hit").count, 2);
        assert_eq!(counters.peek("k").await.expect("peek").count, 2);
        counters.clear("k").await.expect("clear");
        assert_eq!(counters.peek("k").await.expect("peek").count, 0);
    }
}
