//! The `Post` entity and the `Tag` type.

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use tessera_kit::Caller;

use super::comment::CommentNode;
use super::loaders::{self, CommentsLoader, TagPostsLoader, TagsLoader};
use super::page::{self, Conn, IdCursor, Window};
use super::user::UserRef;
use crate::domain::{Post, PostStatus, Viewer};

/// A post as the schema shows it.
pub struct PostNode(pub Post);

#[Object(name = "Post")]
impl PostNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Unique, derived from the title when the post was created; it stays when the title changes.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Markdown, as the author wrote it.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn status(&self) -> PostStatus {
        self.0.status
    }

    async fn author(&self) -> UserRef {
        UserRef(self.0.author_id)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// When the post was first published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    /// Tags in name order.
    async fn tags(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TagNode>> {
        let loader = ctx.data_unchecked::<DataLoader<TagsLoader>>();
        let tags = loaders::list(loader, self.0.id).await?;
        Ok(tags.into_iter().map(TagNode).collect())
    }

    /// Top-level comments, oldest first; each carries its replies.
    #[graphql(complexity = "crate::graphql::page::complexity(first, child_complexity)")]
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<IdCursor, CommentNode>> {
        let window = Window::<IdCursor>::new(first, after)?;
        let loader = ctx.data_unchecked::<DataLoader<CommentsLoader>>();
        let comments = loaders::list(loader, page::page(&window, self.0.id)).await?;
        Ok(window.connection(comments, |c| OpaqueCursor(c.id), CommentNode))
    }
}

/// A tag: a normalised name.
pub struct TagNode(pub String);

#[Object(name = "Tag")]
impl TagNode {
    /// The tag's normalised name, by which clients cache it.
    async fn id(&self) -> ID {
        ID(self.0.clone())
    }

    async fn name(&self) -> &str {
        &self.0
    }

    /// Posts with this tag the caller may see, newest first.
    #[graphql(complexity = "crate::graphql::page::complexity(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<IdCursor, PostNode>> {
        let window = Window::<IdCursor>::new(first, after)?;
        let visibility = Viewer::of(ctx.data_opt::<Caller>()).visibility();
        let loader = ctx.data_unchecked::<DataLoader<TagPostsLoader>>();
        let posts =
            loaders::list(loader, (page::page(&window, self.0.clone()), visibility)).await?;
        Ok(window.connection(posts, |p| OpaqueCursor(p.id), PostNode))
    }
}
