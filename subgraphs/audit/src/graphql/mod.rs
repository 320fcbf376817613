//! The audit subgraph schema.
//!
//! - [`query`]: the log for readers with `audit:read`, its verification, and the entity
//!   resolver.
//! - [`user`]: the `User` entity's `auditTrail` and its batch loader.
//! - [`types`]: the log's types, its filter and the shared paging.

mod query;
mod types;
mod user;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, EmptySubscription, Schema};

pub use query::Query;
pub use types::{AuditChainReport, AuditEventFilter, AuditEventNode};
pub use user::{TrailLoader, User};

use crate::Settings;
use crate::store::Store;

pub type AuditSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn schema(store: Store, settings: Settings) -> AuditSchema {
    let trails = DataLoader::new(TrailLoader(store.clone()), tokio::spawn);
    tessera_kit::server::schema::defaults(Schema::build(Query, EmptyMutation, EmptySubscription))
        .data(trails)
        .data(store)
        .data(settings)
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}
