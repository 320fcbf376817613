//! The audit subgraph schema.
//!
//! - [`query`]: the log for readers with `audit:read`, its verification, and the entity
//!   resolver.
//! - [`subscription`]: `auditEventRecorded`, from the instance's live feed.
//! - [`user`]: the `User` entity's `auditTrail` and its batch loader.
//! - [`types`]: the log's types, its filter and the shared paging.

mod query;
mod subscription;
mod types;
mod user;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptyMutation, Schema};
use tessera_kit::events::LiveFeed;

pub use query::Query;
pub use subscription::Subscription;
pub use types::{AuditChainReport, AuditEventFilter, AuditEventNode};
pub use user::{TrailLoader, User};

use crate::Settings;
use crate::store::Store;

pub type AuditSchema = Schema<Query, EmptyMutation, Subscription>;

/// The schema over `store`; `live` is the instance's feed of the audit topic.
pub fn schema(store: Store, settings: Settings, live: LiveFeed) -> AuditSchema {
    let trails = DataLoader::new(TrailLoader(store.clone()), tokio::spawn);
    tessera_kit::server::schema::defaults(Schema::build(Query, EmptyMutation, Subscription))
        .data(trails)
        .data(store)
        .data(settings)
        .data(live)
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}
