//! How much work planning one operation may do. Every step of the walk and of the cost
//! search counts; past the limit, or past the deadline, planning stops with
//! [`super::PlanError::BudgetExceeded`] instead of holding a thread.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// The deadline is read once every this many steps.
const CLOCK_EVERY: u64 = 1024;

/// A work budget for one plan.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    deadline: Option<Instant>,
    used: Cell<u64>,
    spent: Cell<bool>,
}

impl Budget {
    /// At most `steps` steps, and no longer than `timeout` from now.
    pub fn new(steps: u64, timeout: Option<Duration>) -> Self {
        Self {
            limit: steps,
            deadline: timeout.map(|t| Instant::now() + t),
            used: Cell::new(0),
            spent: Cell::new(false),
        }
    }

    /// No limit (tests and tools).
    pub fn unlimited() -> Self {
        Self::new(u64::MAX, None)
    }

    /// Counts one step; `false` once the budget is spent (and from then on).
    pub(super) fn step(&self) -> bool {
        if self.spent.get() {
            return false;
        }
        let used = self.used.get() + 1;
        self.used.set(used);
        let late =
            used.is_multiple_of(CLOCK_EVERY) && self.deadline.is_some_and(|d| Instant::now() >= d);
        if used > self.limit || late {
            self.spent.set(true);
            return false;
        }
        true
    }

    /// Whether planning ran out of budget.
    pub fn spent(&self) -> bool {
        self.spent.get()
    }

    /// The steps taken so far.
    pub fn used(&self) -> u64 {
        self.used.get()
    }
}
