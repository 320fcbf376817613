//! Tessera's federation router.
//!
//! - [`compose`]: subgraph SDLs → a standard Federation v2 supergraph SDL, with validation.
//! - [`config`]: gateway configuration types, one file per feature.
//!
//! The supergraph model, planner, executor and request pipeline join this crate as they land.

pub mod compose;
pub mod config;
