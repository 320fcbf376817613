//! The identity subgraph schema.

mod mutation;
mod query;
mod registration;
mod signed_in;
mod user;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};
use tessera_kit::cache::Counters;
use tessera_kit::caller::TokenVerifier;
use tessera_kit::events::Outbox;
use tessera_kit::mail::Notifier;

pub use mutation::Mutation;
pub use query::Query;
pub use user::{UserLoader, UserNode};

use crate::Settings;
use crate::store::Store;

pub type IdentitySchema = Schema<Query, Mutation, EmptySubscription>;

/// What the resolvers need.
pub struct Deps {
    pub store: Store,
    pub outbox: Outbox,
    pub notifier: Arc<dyn Notifier>,
    pub counters: Arc<dyn Counters>,
    pub settings: Settings,
    /// Verifies the access tokens sign-ins present as `AuthPayload` keys.
    pub verifier: Arc<TokenVerifier>,
}

pub fn schema(deps: Deps) -> IdentitySchema {
    let loader = DataLoader::new(UserLoader(deps.store.clone()), tokio::spawn);
    tessera_kit::server::schema::defaults(Schema::build(Query, Mutation, EmptySubscription))
        .data(loader)
        .data(deps.store)
        .data(deps.outbox)
        .data(deps.notifier)
        .data(deps.counters)
        .data(deps.settings)
        .data(deps.verifier)
        .data(registration::Waits::default())
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}
