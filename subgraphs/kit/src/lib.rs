//! What every Tessera subgraph needs to run, and nothing domain-specific.
//!
//! - [`config`]: typed, strict service configuration from a YAML file plus one environment
//!   override mechanism; secrets wrapped so they never print.
//! - [`db`]: the PostgreSQL pool bound to the service's own schema, counting every statement it
//!   sends, and its migrations.
//! - [`error`]: the `extensions.code` values every service shares, and the split between client
//!   errors (shown) and internal errors (logged once, masked).
//! - [`caller`]: verification of the JWT the router forwards, against the auth service's JWKS.
//! - [`events`]: the event envelope, the bus trait with Kafka and in-process implementations,
//!   the transactional outbox with its relay, the idempotent-consumer inbox, and the live feed
//!   that streams events to subscriptions.
//! - [`cache`]: the optional Redis connection and a counter store (Redis or in-process) for
//!   throttles.
//! - [`mail`]: outgoing mail (SMTP or a dev mailbox file).
//! - [`opaque`]: one-time tokens stored as hashes, and email normalization.
//! - [`page`]: Relay connections: bounded page sizes, opaque cursors.
//! - [`runtime`]: the start-up sequence every service shares.
//! - [`server`]: the axum + async-graphql bootstrap (GraphQL over HTTP and WebSocket, health,
//!   metrics) and graceful shutdown.
//! - [`tasks`]: background work with a lifecycle.
//! - [`telemetry`]: tracing set-up.

pub mod cache;
pub mod caller;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod mail;
pub mod opaque;
pub mod page;
pub mod runtime;
pub mod server;
pub mod tasks;
pub mod telemetry;

pub use caller::Caller;
pub use error::{ApiError, ErrorCode};
