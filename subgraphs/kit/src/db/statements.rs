//! How many statements one service instance sent to PostgreSQL, by origin.
//!
//! The counters belong to the instance, not to the process-wide metrics recorder: several
//! services (or, in tests, several platforms) may share a process, and each `/metrics` must
//! report its own database traffic. The origin label separates the statements requests cause
//! (`request`, the default) from background work (`outbox`, `consumer`, `health`, or whatever a
//! service names its own jobs), so request costs can be read without background noise.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The metric's name.
pub const METRIC: &str = "tessera_db_statements_total";

/// Statements sent by requests and by anything not counted under another origin.
pub const REQUEST: &str = "request";
/// Statements of the outbox relay.
pub const OUTBOX: &str = "outbox";
/// Statements of event consumers (the transaction [`crate::events::consumer::begin_once`]
/// opens).
pub const CONSUMER: &str = "consumer";
/// Statements of readiness checks.
pub const HEALTH: &str = "health";

/// One counter per origin; shared by every handle of one service's pool.
pub struct Statements {
    service: String,
    origins: Mutex<Vec<(&'static str, Arc<AtomicU64>)>>,
}

impl Statements {
    /// Counters for `service`, with the shared origins registered at zero, so they are exported
    /// before anything happened.
    pub fn new(service: &str) -> Arc<Self> {
        let statements = Arc::new(Self {
            service: service.to_owned(),
            origins: Mutex::new(Vec::new()),
        });
        for origin in [REQUEST, OUTBOX, CONSUMER, HEALTH] {
            statements.counter(origin);
        }
        statements
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// The counter of `origin`, created on first use.
    pub fn counter(&self, origin: &'static str) -> Arc<AtomicU64> {
        let mut origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, counter)) = origins.iter().find(|(name, _)| *name == origin) {
            return counter.clone();
        }
        let counter = Arc::new(AtomicU64::new(0));
        origins.push((origin, counter.clone()));
        counter
    }

    /// Statements counted under `origin` so far.
    pub fn count(&self, origin: &str) -> u64 {
        self.origins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(name, _)| *name == origin)
            .map_or(0, |(_, counter)| counter.load(Ordering::Relaxed))
    }

    /// Appends the counters in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "# HELP {METRIC} SQL statements this service instance sent to PostgreSQL, by origin."
        );
        let _ = writeln!(out, "# TYPE {METRIC} counter");
        let origins = self.origins.lock().unwrap_or_else(PoisonError::into_inner);
        for (origin, counter) in origins.iter() {
            let _ = writeln!(
                out,
                "{METRIC}{{service=\"{}\",origin=\"{origin}\"}} {}",
                self.service,
                counter.load(Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_origin_of_the_service() {
        let statements = Statements::new("blog");
        statements.counter(REQUEST).fetch_add(3, Ordering::Relaxed);
        statements
            .counter("renewals")
            .fetch_add(1, Ordering::Relaxed);
        let mut out = String::from("other_metric 1");
        statements.render(&mut out);
        assert!(out.starts_with("other_metric 1\n# HELP tessera_db_statements_total "));
        assert!(
            out.contains("tessera_db_statements_total{service=\"blog\",origin=\"request\"} 3\n")
        );
        assert!(
            out.contains("tessera_db_statements_total{service=\"blog\",origin=\"outbox\"} 0\n")
        );
        assert!(
            out.contains("tessera_db_statements_total{service=\"blog\",origin=\"renewals\"} 1\n")
        );
        assert_eq!(statements.count(REQUEST), 3);
        assert_eq!(statements.count("unknown"), 0);
    }
}
