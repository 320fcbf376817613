//! Router integration tests.

mod compose;
