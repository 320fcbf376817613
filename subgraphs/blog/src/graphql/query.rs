//! Queries and the entity resolvers.

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, InputObject, Object};
use tessera_kit::error::ApiResult;
use tessera_kit::{ApiError, Caller};
use uuid::Uuid;

use super::loaders::{self, PostLoader};
use super::page::{Conn, IdCursor, Window, uuid};
use super::post::PostNode;
use super::search::{self, SearchConnection};
use super::user::UserRef;
use crate::domain::{PostStatus, Viewer, text};
use crate::store::{PostFilter, Store};

pub struct Query;

/// Narrows the `posts` list; every field is optional.
#[derive(InputObject, Default)]
#[graphql(name = "PostFilter")]
pub struct PostFilterInput {
    pub status: Option<PostStatus>,
    /// A tag, normalised as tags are when written.
    pub tag: Option<String>,
    pub author_id: Option<ID>,
}

fn viewer(ctx: &Context<'_>) -> Viewer {
    Viewer::of(ctx.data_opt::<Caller>())
}

/// The post with `id` if the caller may see it.
pub async fn visible_post(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<PostNode>> {
    let loader = ctx.data_unchecked::<DataLoader<PostLoader>>();
    let post = loaders::one(loader, id).await?;
    Ok(post.filter(|p| viewer(ctx).sees(p)).map(PostNode))
}

#[Object]
impl Query {
    /// Posts the caller may see, newest first: published posts for everyone, plus the caller's
    /// own drafts and archived posts; holders of `blog:moderate` see every post.
    #[graphql(complexity = "crate::graphql::page::complexity(first, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<PostFilterInput>,
    ) -> async_graphql::Result<Conn<IdCursor, PostNode>> {
        let window = Window::<IdCursor>::new(first, after)?;
        let filter = filter.unwrap_or_default();
        let filter = PostFilter {
            status: filter.status,
            tag: filter.tag.as_deref().map(text::tag).transpose()?,
            author_id: filter
                .author_id
                .as_ref()
                .map(|id| uuid(id, "user"))
                .transpose()?,
        };
        let store = ctx.data_unchecked::<Store>();
        let posts = store
            .posts(
                viewer(ctx).visibility(),
                &filter,
                window.after.as_ref().map(|c| c.0),
                window.limit(),
            )
            .await
            .map_err(ApiError::from)?;
        Ok(window.connection(posts, |p| OpaqueCursor(p.id), PostNode))
    }

    /// A post by id, if the caller may see it.
    async fn post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<PostNode>> {
        Ok(visible_post(ctx, uuid(&id, "post")?).await?)
    }

    /// A post by slug, if the caller may see it.
    async fn post_by_slug(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<PostNode>> {
        let store = ctx.data_unchecked::<Store>();
        let post = store.post_by_slug(&slug).await.map_err(ApiError::from)?;
        Ok(post.filter(|p| viewer(ctx).sees(p)).map(PostNode))
    }

    /// Published posts matching `query` (web-search syntax: words, "quoted phrases", `or`,
    /// `-excluded`), best match first; title matches rank above body matches.
    #[graphql(complexity = "crate::graphql::page::complexity(first, child_complexity)")]
    async fn search_posts(
        &self,
        ctx: &Context<'_>,
        query: String,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SearchConnection> {
        Ok(search::search_posts(ctx, &query, first, after).await?)
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<UserRef> {
        Ok(UserRef(uuid(&id, "user")?))
    }

    #[graphql(entity)]
    async fn find_post_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<PostNode>> {
        Ok(visible_post(ctx, uuid(&id, "post")?).await?)
    }
}
