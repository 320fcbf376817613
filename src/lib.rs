//! The `tessera` binary's library: the command line and the platform assembly that `tessera dev`
//! and the end-to-end tests share.
//!
//! - [`cli`]: subcommands and what each one starts.
//! - [`compose`]: the `tessera compose` command and start-up composition for `tessera dev`.
//! - [`platform`]: starts the subgraph services (and, later, the router) in one process on
//!   given or free ports, wired to each other exactly as in production.
//! - [`postgres`]: finds the PostgreSQL to use for `tessera dev`, or starts a private one.

pub mod cli;
pub mod compose;
pub mod platform;
pub mod postgres;
