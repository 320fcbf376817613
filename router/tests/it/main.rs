//! Router integration tests.

mod compose;
mod executor;
mod limits;
mod planner;
mod playground;
mod supergraph;
