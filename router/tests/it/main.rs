//! Router integration tests.

mod compose;
mod edge;
mod executor;
mod graphql;
mod limits;
mod planner;
mod playground;
mod protocols;
mod subscriptions;
mod supergraph;
