//! Budgets in Redis, shared by every router instance using the same Redis and key prefix.
//!
//! One round trip per request: a Lua script (sent by hash, uploaded on the first `NOSCRIPT`)
//! decides all of the request's keys at once, reading the clock from Redis (`TIME`) so every
//! instance shares one clock, and sets each TAT with a `PX` expiry at which its bucket is full
//! again, so idle keys vanish on their own.
//!
//! The connection is made lazily. After a failure (refused, timed out, broken) no request tries
//! to connect again until a backoff has passed, doubling up to [`MAX_BACKOFF`]; requests in that
//! window fail at once instead of each paying for a connection attempt.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::time::{Instant, timeout_at};

use super::store::{Cell, Store, StoreError, Verdict};

const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// KEYS[i] is a bucket; ARGV[2i-1] and ARGV[2i] are its T and τ in microseconds. Returns four
/// integers per key: allowed (0 or 1), remaining, reset and retry-after in microseconds. Same
/// arithmetic as `store::gcra`; all values stay below 2^53, so Lua's doubles are exact.
const SCRIPT: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local out, tats, all = {}, {}, true
for i, key in ipairs(KEYS) do
  local emission = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = now
  local stored = redis.call('GET', key)
  if stored then tat = math.max(tonumber(stored) or now, now) end
  local new_tat = tat + emission
  local allow_at = new_tat - tolerance
  local at = 4 * (i - 1)
  if allow_at > now then
    all = false
    out[at + 1], out[at + 2], out[at + 3], out[at + 4] = 0, 0, tat - now, allow_at - now
  else
    tats[i] = new_tat
    out[at + 1] = 1
    out[at + 2] = math.floor((now + tolerance - new_tat) / emission)
    out[at + 3], out[at + 4] = new_tat - now, 0
  end
end
if all then
  for i, key in ipairs(KEYS) do
    local ttl = math.ceil((tats[i] - now) / 1000)
    redis.call('SET', key, string.format('%.0f', tats[i]), 'PX', ttl)
  end
end
return out
";

pub(super) struct RedisStore {
    client: redis::Client,
    script: redis::Script,
    timeout: Duration,
    connection: Mutex<Connection>,
    /// The gate: held while connecting, so concurrent requests wait for one attempt instead of
    /// each making their own.
    connecting: tokio::sync::Mutex<()>,
}

enum Connection {
    Never,
    Up {
        connection: MultiplexedConnection,
        /// Tells a failure on this connection from one on an older connection.
        generation: u64,
    },
    Down {
        retry_at: Instant,
        backoff: Duration,
        generation: u64,
        /// A connection attempt holds the gate; requests wait for it rather than fail.
        attempting: bool,
    },
}

impl RedisStore {
    /// Checks the URL; connects on first use.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|error| anyhow::anyhow!("invalid rate-limit Redis URL: {error}"))?;
        Ok(Self {
            client,
            script: redis::Script::new(SCRIPT),
            timeout,
            connection: Mutex::new(Connection::Never),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every assignment replaces the whole state, so a poisoned lock still holds a valid one.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The live connection, an immediate error while backing off, or `None` when the caller
    /// should take the gate and connect. Without the gate, an attempt in progress is waited for;
    /// with it, an attempt still marked in progress was abandoned and counts as failed.
    fn current(
        &self,
        holding_gate: bool,
    ) -> Option<Result<(MultiplexedConnection, u64), StoreError>> {
        match &*self.state() {
            Connection::Never => None,
            Connection::Up {
                connection,
                generation,
            } => Some(Ok((connection.clone(), *generation))),
            Connection::Down {
                attempting: true, ..
            } if !holding_gate => None,
            Connection::Down { retry_at, .. } => {
                let now = Instant::now();
                (now < *retry_at).then(|| Err(StoreError::Backoff(*retry_at - now)))
            }
        }
    }

    async fn connect(&self, deadline: Instant) -> Result<(MultiplexedConnection, u64), StoreError> {
        if let Some(current) = self.current(false) {
            return current;
        }
        let _gate = timeout_at(deadline, self.connecting.lock())
            .await
            .map_err(|_| StoreError::Timeout(self.timeout))?;
        // Someone else may have connected, or failed, while this request waited.
        if let Some(current) = self.current(true) {
            return current;
        }
        // Recorded as failed before trying, so an attempt abandoned half-way (the caller dropped
        // this future) still makes the next one wait for the backoff.
        let generation = {
            let mut state = self.state();
            let (backoff, generation) = match &*state {
                Connection::Never => (INITIAL_BACKOFF, 0),
                Connection::Up { generation, .. } => (INITIAL_BACKOFF, *generation),
                Connection::Down {
                    backoff,
                    generation,
                    ..
                } => ((*backoff * 2).min(MAX_BACKOFF), *generation),
            };
            let generation = generation + 1;
            *state = Connection::Down {
                retry_at: Instant::now() + backoff,
                backoff,
                generation,
                attempting: true,
            };
            generation
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let attempt = timeout_at(
            deadline,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        let mut state = self.state();
        match attempt {
            Ok(Ok(connection)) => {
                *state = Connection::Up {
                    connection: connection.clone(),
                    generation,
                };
                Ok((connection, generation))
            }
            failed => {
                if let Connection::Down { attempting, .. } = &mut *state {
                    *attempting = false;
                }
                match failed {
                    Ok(Err(error)) => Err(error.into()),
                    _ => Err(StoreError::Timeout(self.timeout)),
                }
            }
        }
    }

    /// Drops a connection that failed, unless a newer one has replaced it already.
    fn fail(&self, generation: u64) {
        let mut state = self.state();
        if matches!(&*state, Connection::Up { generation: current, .. } if *current == generation) {
            *state = Connection::Down {
                retry_at: Instant::now() + INITIAL_BACKOFF,
                backoff: INITIAL_BACKOFF,
                generation,
                attempting: false,
            };
        }
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn acquire(&self, cells: &[Cell]) -> Result<Vec<Verdict>, StoreError> {
        let deadline = Instant::now() + self.timeout;
        let (mut connection, generation) = self.connect(deadline).await?;
        let mut invocation = self.script.prepare_invoke();
        for cell in cells {
            invocation
                .key(&cell.key)
                .arg(cell.emission_us)
                .arg(cell.tolerance_us);
        }
        let reply: Vec<u64> =
            match timeout_at(deadline, invocation.invoke_async(&mut connection)).await {
                Ok(Ok(reply)) => reply,
                Ok(Err(error)) => {
                    self.fail(generation);
                    return Err(error.into());
                }
                Err(_) => {
                    // A Redis this slow counts as down; a fresh connection after the backoff also
                    // gets rid of one stuck behind a dead peer.
                    self.fail(generation);
                    return Err(StoreError::Timeout(self.timeout));
                }
            };
        if reply.len() != cells.len() * 4 {
            return Err(StoreError::Reply(format!(
                "{} integers for {} keys",
                reply.len(),
                cells.len()
            )));
        }
        Ok(reply
            .chunks_exact(4)
            .map(|verdict| Verdict {
                allowed: verdict[0] == 1,
                remaining: verdict[1],
                reset_us: verdict[2],
                retry_after_us: verdict[3],
            })
            .collect())
    }
}
