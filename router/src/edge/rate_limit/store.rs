//! The store behind the limiter and the arithmetic both implementations share.
//!
//! GCRA (the generic cell rate algorithm) keeps one number per key, the theoretical arrival time
//! (TAT): when the key's bucket would be full again if no further request came. With emission
//! interval `T = period / limit` and tolerance `τ = T × burst`, a request at `now` is allowed when
//! `max(TAT, now) + T − τ ≤ now`, and then moves TAT to `max(TAT, now) + T`.
//!
//! This is a token bucket of capacity `burst` refilled with one token every `T`, stored as the
//! moment it will be full rather than as a token count: `(TAT − now) / T` tokens are missing, so
//! `burst − (TAT − now) / T` remain. A key whose TAT has passed is a full bucket and can be
//! forgotten, which is why idle keys can simply expire.
//!
//! Times are in microseconds so that high rates (a `T` below one millisecond) stay exact.

use std::time::Duration;

/// One bucket a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cell {
    /// The store key (for Redis, with its prefix).
    pub key: String,
    /// `T`: the period divided by the limit, in microseconds; at least 1.
    pub emission_us: u64,
    /// `τ`: `T × burst`, in microseconds.
    pub tolerance_us: u64,
}

/// What one bucket says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Verdict {
    pub allowed: bool,
    /// Requests that may still be sent at once, counting this one as sent if allowed.
    pub remaining: u64,
    /// Until the bucket is full again, in microseconds.
    pub reset_us: u64,
    /// Until a request would be allowed, in microseconds; 0 when allowed.
    pub retry_after_us: u64,
}

impl Verdict {
    pub fn reset(&self) -> Duration {
        Duration::from_micros(self.reset_us)
    }

    pub fn retry_after(&self) -> Duration {
        Duration::from_micros(self.retry_after_us)
    }
}

/// Why a store could not answer.
#[derive(Debug, thiserror::Error)]
pub(super) enum StoreError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Link(#[from] crate::redis_link::LinkError),
    #[error("unexpected reply: {0}")]
    Reply(String),
}

/// Keeps TATs. Every implementation decides all of a request's cells atomically: each is
/// consumed if every one allows the request, none otherwise.
#[async_trait::async_trait]
pub(super) trait Store: Send + Sync {
    /// One verdict per cell, in order.
    async fn acquire(&self, cells: &[Cell]) -> Result<Vec<Verdict>, StoreError>;
}

/// GCRA for one cell at `now`, given its stored TAT: the verdict, and the TAT to store if the
/// whole request is allowed. Mirrored line for line by the Redis script.
pub(super) fn gcra(now: u64, stored: Option<u64>, cell: &Cell) -> (Verdict, u64) {
    let tat = stored.map_or(now, |stored| stored.max(now));
    let new_tat = tat.saturating_add(cell.emission_us);
    let allow_at = new_tat.saturating_sub(cell.tolerance_us);
    if allow_at > now {
        let verdict = Verdict {
            allowed: false,
            remaining: 0,
            reset_us: tat - now,
            retry_after_us: allow_at - now,
        };
        (verdict, tat)
    } else {
        let verdict = Verdict {
            allowed: true,
            remaining: (now + cell.tolerance_us - new_tat) / cell.emission_us,
            reset_us: new_tat - now,
            retry_after_us: 0,
        };
        (verdict, new_tat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(emission_us: u64, burst: u64) -> Cell {
        Cell {
            key: "k".to_owned(),
            emission_us,
            tolerance_us: emission_us * burst,
        }
    }

    #[test]
    fn gcra_allows_burst_then_waits_one_emission_interval() {
        let cell = cell(1_000, 3);
        let mut tat = None;
        for expected_remaining in [2, 1, 0] {
            let (verdict, new_tat) = gcra(10_000, tat, &cell);
            assert!(verdict.allowed);
            assert_eq!(verdict.remaining, expected_remaining);
            tat = Some(new_tat);
        }
        let (verdict, _) = gcra(10_000, tat, &cell);
        assert!(!verdict.allowed);
        assert_eq!(verdict.retry_after_us, 1_000);
        assert_eq!(verdict.reset_us, 3_000);
        let (verdict, _) = gcra(11_000, tat, &cell);
        assert!(verdict.allowed);
        assert_eq!(verdict.remaining, 0);
    }
}
