//! Tessera's federation router.
//!
//! - [`compose`]: subgraph SDLs → a standard Federation v2 supergraph SDL, with validation.
//! - [`config`]: gateway configuration types, one file per feature.
//! - [`supergraph`]: a supergraph SDL read into the model planning uses, and its API schema.
//! - [`introspection`]: schema introspection, with the fields apollo-compiler does not answer.
//! - [`validation`]: operations checked against the API schema, one error per mistake, with
//!   the OneOf input object rules.
//!
//! The supergraph model, planner, executor and request pipeline join this crate as they land.

mod body;
pub mod compose;
pub mod config;
pub mod edge;
pub mod executor;
pub mod introspection;
pub mod json;
pub mod pipeline;
pub mod planner;
pub mod playground;
mod redis_link;
pub mod reload;
pub mod server;
pub mod subscriptions;
pub mod supergraph;
pub mod validation;
