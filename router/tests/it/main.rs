//! Router integration tests.

mod compose;
mod executor;
mod planner;
mod playground;
mod supergraph;
