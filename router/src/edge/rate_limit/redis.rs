//! Budgets in Redis, shared by every router instance using the same Redis and key prefix.
//!
//! One round trip per request: a Lua script (sent by hash, uploaded on the first `NOSCRIPT`)
//! decides all of the request's keys at once, reading the clock from Redis (`TIME`) so every
//! instance shares one clock, and sets each TAT with a `PX` expiry at which its bucket is full
//! again, so idle keys vanish on their own. The connection is [`crate::redis_link`]'s.

use std::time::Duration;

use tokio::time::{Instant, timeout_at};

use super::store::{Cell, Store, StoreError, Verdict};
use crate::redis_link::Link;

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
    link: Link,
    script: redis::Script,
}

impl RedisStore {
    /// Checks the URL; connects on first use.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            link: Link::new(url, timeout, "rate-limit")?,
            script: redis::Script::new(SCRIPT),
        })
    }
}

#[async_trait::async_trait]
impl Store for RedisStore {
    async fn acquire(&self, cells: &[Cell]) -> Result<Vec<Verdict>, StoreError> {
        let deadline = Instant::now() + self.link.timeout();
        let (mut connection, generation) = self.link.connect(deadline).await?;
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
                    self.link.fail(generation);
                    return Err(error.into());
                }
                Err(_) => {
                    // A Redis this slow counts as down; a fresh connection after the backoff also
                    // gets rid of one stuck behind a dead peer.
                    self.link.fail(generation);
                    return Err(StoreError::Timeout(self.link.timeout()));
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
