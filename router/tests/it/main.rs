//! Router integration tests.

mod compose;
mod planner;
mod playground;
mod supergraph;
