//! Router integration tests.

mod compose;
mod supergraph;
