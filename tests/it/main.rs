//! End-to-end tests: the platform started on free ports, spoken to over HTTP.

mod audit;
mod auth;
mod authz;
mod billing;
mod blog;
mod clients;
mod events;
mod federation;
mod fuzz;
mod http;
mod identity;
mod platform;
mod router;
mod schema;
mod sign_in;
mod subscriptions;
mod tokens;
mod websocket;
