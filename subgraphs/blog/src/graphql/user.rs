//! The `User` entity, owned by identity; the blog adds a user's posts.

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use tessera_kit::Caller;
use uuid::Uuid;

use super::loaders::{self, AuthorPostsLoader};
use super::page::{self, Conn, IdCursor, Window};
use super::post::PostNode;
use crate::domain::Viewer;

/// A reference to a user: the blog knows only the id.
pub struct UserRef(pub Uuid);

#[Object(name = "User")]
impl UserRef {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }

    /// The user's posts, newest first: published ones, and all of them for the user themselves
    /// and holders of `blog:moderate`.
    #[graphql(complexity = "crate::graphql::page::complexity(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<IdCursor, PostNode>> {
        let window = Window::<IdCursor>::new(first, after)?;
        let visibility = Viewer::of(ctx.data_opt::<Caller>()).visibility();
        let loader = ctx.data_unchecked::<DataLoader<AuthorPostsLoader>>();
        let posts = loaders::list(loader, (page::page(&window, self.0), visibility)).await?;
        Ok(window.connection(posts, |p| OpaqueCursor(p.id), PostNode))
    }
}
