//! Router integration tests.

mod compose;
mod playground;
mod supergraph;
