//! The blog subgraph schema.
//!
//! - [`query`]: `posts`, `post`, `postBySlug`, `searchPosts`, and the entity resolvers.
//! - [`mutation`]: writing, editing, publishing, archiving and commenting.
//! - [`subscription`]: `postPublished` and `commentAdded`, from the instance's live feed.
//! - [`post`], [`comment`], [`user`]: the `Post`, `Tag`, `Comment` and `User` types.
//! - [`loaders`]: one batch loader per entity and per parent's list.
//! - [`search`]: full-text search and its ranked connection.
//! - [`page`]: Relay connection helpers.

mod comment;
mod loaders;
mod mutation;
mod page;
mod post;
mod query;
mod search;
mod subscription;
mod user;

use std::time::Duration;

use async_graphql::Schema;
use async_graphql::dataloader::{DataLoader, Loader};
use tessera_kit::events::{LiveFeed, Outbox};

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

use crate::Settings;
use crate::store::Store;

pub type BlogSchema = Schema<Query, Mutation, Subscription>;

/// What the resolvers need.
pub struct Deps {
    pub store: Store,
    pub outbox: Outbox,
    /// The instance's feed of the blog topic, for subscriptions.
    pub live: LiveFeed,
    pub settings: Settings,
}

fn loader<L, K>(loader: L, delay: Duration) -> DataLoader<L>
where
    L: Loader<K>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
{
    DataLoader::new(loader, tokio::spawn).delay(delay)
}

pub fn schema(deps: Deps) -> BlogSchema {
    let delay = Duration::from_millis(deps.settings.batch_delay_ms);
    let store = deps.store;
    tessera_kit::server::schema::defaults(Schema::build(Query, Mutation, Subscription))
        .data(loader(loaders::PostLoader(store.clone()), delay))
        .data(loader(loaders::AuthorPostsLoader(store.clone()), delay))
        .data(loader(loaders::TagPostsLoader(store.clone()), delay))
        .data(loader(loaders::CommentsLoader(store.clone()), delay))
        .data(loader(loaders::RepliesLoader(store.clone()), delay))
        .data(loader(loaders::TagsLoader(store.clone()), delay))
        .data(store)
        .data(deps.outbox)
        .data(deps.live)
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}
