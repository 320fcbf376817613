//! The authz subgraph schema.
//!
//! - [`query`]: roles, permissions, `can`, and the `User` entity resolver.
//! - [`mutation`]: `createRole`, `grantRole`, `revokeRole`.
//! - [`role`]: `Role`, `Permission`, `RoleAssignment` and the role loaders.
//! - [`user`]: the fields authz adds to `User`, and the loader of users' assignments.

mod mutation;
mod query;
mod role;
mod user;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Schema};
use tessera_kit::events::Outbox;

pub use mutation::Mutation;
pub use query::Query;
pub use role::{PermissionsLoader, RoleLoader};
pub use user::AssignmentsLoader;

use crate::store::Store;

pub type AuthzSchema = Schema<Query, Mutation, EmptySubscription>;

/// What the resolvers need.
pub struct Deps {
    pub store: Store,
    pub outbox: Outbox,
}

pub fn schema(deps: Deps) -> AuthzSchema {
    let roles = DataLoader::new(RoleLoader(deps.store.clone()), tokio::spawn);
    let permissions = DataLoader::new(PermissionsLoader(deps.store.clone()), tokio::spawn);
    let assignments = DataLoader::new(AssignmentsLoader(deps.store.clone()), tokio::spawn);
    tessera_kit::server::schema::defaults(Schema::build(Query, Mutation, EmptySubscription))
        .data(roles)
        .data(permissions)
        .data(assignments)
        .data(deps.store)
        .data(deps.outbox)
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
