//! Budgets in this process: one map of TATs behind a mutex.
//!
//! One lock rather than shards because a request's cells must be decided together; the critical
//! section is a few map lookups. Keys whose TAT has passed are full buckets, indistinguishable
//! from absent ones, so a sweep every [`SWEEP_EVERY_US`] drops them and memory stays bounded by
//! the keys active in the last sweep interval plus those still refilling.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use ahash::AHashMap;

use super::store::{Cell, Store, StoreError, Verdict, gcra};

/// How often expired keys are swept, in microseconds.
const SWEEP_EVERY_US: u64 = 10_000_000;

pub(super) struct MemoryStore {
    /// The clock's origin; TATs are microseconds since then.
    origin: Instant,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    tats: AHashMap<String, u64>,
    next_sweep_us: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
            state: Mutex::default(),
        }
    }

    /// [`Store::acquire`] at a given time, so tests can move the clock.
    pub fn acquire_at(&self, now: u64, cells: &[Cell]) -> Vec<Verdict> {
        // The map is consistent after every statement, so a panic elsewhere cannot leave it torn.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= state.next_sweep_us {
            state.tats.retain(|_, tat| *tat > now);
            state.next_sweep_us = now + SWEEP_EVERY_US;
        }
        let mut verdicts = Vec::with_capacity(cells.len());
        let mut tats = Vec::with_capacity(cells.len());
        for cell in cells {
            let (verdict, tat) = gcra(now, state.tats.get(&cell.key).copied(), cell);
            verdicts.push(verdict);
            tats.push(tat);
        }
        if verdicts.iter().all(|verdict| verdict.allowed) {
            for (cell, tat) in cells.iter().zip(tats) {
                state.tats.insert(cell.key.clone(), tat);
            }
        }
        verdicts
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.tats.len()
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn acquire(&self, cells: &[Cell]) -> Result<Vec<Verdict>, StoreError> {
        // Saturates after half a million years of uptime.
        let now = u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX);
        Ok(self.acquire_at(now, cells))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_store_forgets_full_buckets() {
        let store = MemoryStore::new();
        let cells: Vec<Cell> = (0..100)
            .map(|n| Cell {
                key: format!("k{n}"),
                emission_us: 1_000,
                tolerance_us: 1_000,
            })
            .collect();
        for cell in &cells {
            store.acquire_at(0, std::slice::from_ref(cell));
        }
        assert_eq!(store.len(), 100);
        store.acquire_at(SWEEP_EVERY_US, &cells[..1]);
        assert_eq!(store.len(), 1, "only the key just used remains");
    }
}
