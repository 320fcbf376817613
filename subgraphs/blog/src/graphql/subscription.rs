//! Live subscriptions, streamed from this instance's live feed of the blog topic. Each event is
//! matched against the subscriber's arguments first; only a match is read from the database, so
//! a subscriber sees the post or comment as it is stored, never the event's copy.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, ID, Subscription as GraphqlSubscription};
use tessera_kit::events::{Envelope, LiveFeed};
use tessera_kit::{ApiError, Caller};

use super::comment::CommentNode;
use super::page::uuid;
use super::post::PostNode;
use super::query::visible_post;
use crate::domain::Viewer;
use crate::events;
use crate::store::Store;

pub struct Subscription;

#[GraphqlSubscription]
impl Subscription {
    /// Each post as it is published, by anyone or by `authorId` only.
    async fn post_published(
        &self,
        ctx: &Context<'_>,
        author_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<PostNode>>> {
        let author = author_id.as_ref().map(|id| uuid(id, "user")).transpose()?;
        let viewer = Viewer::of(ctx.data_opt::<Caller>());
        let store = ctx.data_unchecked::<Store>().clone();
        Ok(feed(ctx).stream(move |event: Arc<Envelope>| {
            let store = store.clone();
            async move {
                let Some(published) = events::published(&event) else {
                    return Ok(None);
                };
                if author.is_some_and(|a| a != published.author_id) {
                    return Ok(None);
                }
                let post = store.posts_by_ids(&[published.post_id]).await?;
                // Archived since, and no longer the caller's to see: nothing to show.
                Ok(post.into_iter().find(|p| viewer.sees(p)).map(PostNode))
            }
        }))
    }

    /// Each comment or reply added to post `postId`, which the caller must be able to see
    /// (NOT_FOUND otherwise).
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<CommentNode>>> {
        let post_id = uuid(&post_id, "post")?;
        // Comments go on published posts only, which everyone sees: being allowed to see the
        // post now is being allowed to see every comment it gets.
        visible_post(ctx, post_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such post"))?;
        let store = ctx.data_unchecked::<Store>().clone();
        Ok(feed(ctx).stream(move |event: Arc<Envelope>| {
            let store = store.clone();
            async move {
                let Some(added) = events::comment_of(&event).filter(|a| a.post_id == post_id)
                else {
                    return Ok(None);
                };
                let comment = store.comments_by_ids(&[added.comment_id]).await?;
                Ok(comment.into_iter().next().map(CommentNode))
            }
        }))
    }
}

fn feed<'a>(ctx: &Context<'a>) -> &'a LiveFeed {
    ctx.data_unchecked::<LiveFeed>()
}
