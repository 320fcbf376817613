//! Mutations: writing, editing and moving posts through their workflow, and commenting. Each
//! change commits together with its event.

use async_graphql::{Context, ID, InputObject, Object};
use chrono::Utc;
use tessera_kit::error::{ApiResult, ErrorCode};
use tessera_kit::events::Outbox;
use tessera_kit::{ApiError, caller, db};
use uuid::Uuid;

use super::comment::CommentNode;
use super::page::uuid;
use super::post::PostNode;
use crate::domain::{Comment, Post, Transition, Viewer, comment, text};
use crate::events;
use crate::store::{self, Lock, NewPost, Store};

pub struct Mutation;

#[derive(InputObject)]
pub struct CreatePostInput {
    pub title: String,
    /// Markdown; stored as written.
    pub body: String,
    /// Up to 10 tags, normalised (`"Rust Lang"` becomes `rust-lang`).
    #[graphql(default)]
    pub tags: Vec<String>,
}

/// The fields to change; those left out stay as they are. `tags` replaces the whole set.
#[derive(InputObject)]
pub struct UpdatePostInput {
    pub id: ID,
    pub title: Option<String>,
    pub body: Option<String>,
    pub tags: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct AddCommentInput {
    pub post_id: ID,
    pub body: String,
    /// The top-level comment this replies to.
    pub parent_id: Option<ID>,
}

#[Object]
impl Mutation {
    /// Creates a draft by the signed-in user. Its slug comes from the title; when another post
    /// has that slug, the next free numeric suffix is appended (`hello-world-2`).
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> async_graphql::Result<PostNode> {
        Ok(create_post(ctx, input).await?)
    }

    /// Changes a post's title, body or tags. The author and holders of `blog:moderate` may;
    /// archived posts are read-only.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        input: UpdatePostInput,
    ) -> async_graphql::Result<PostNode> {
        Ok(update_post(ctx, input).await?)
    }

    /// Publishes a draft.
    async fn publish_post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<PostNode> {
        Ok(transition(ctx, &id, Transition::Publish).await?)
    }

    /// Archives a draft or a published post: it leaves public view and becomes read-only.
    async fn archive_post(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<PostNode> {
        Ok(transition(ctx, &id, Transition::Archive).await?)
    }

    /// Comments on a published post, or replies to one of its top-level comments (a reply to a
    /// reply is refused with REPLY_TOO_DEEP).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: AddCommentInput,
    ) -> async_graphql::Result<CommentNode> {
        Ok(add_comment(ctx, input).await?)
    }
}

/// Database errors of writes: violated constraints become client errors by name.
fn write_error(err: sqlx::Error) -> ApiError {
    match db::violated_constraint(&err) {
        Some("comments_post_fkey") => ApiError::not_found("no such post"),
        Some("comments_parent_fkey") => ApiError::not_found("no such comment on this post"),
        Some("posts_slug_key") => {
            ApiError::client(ErrorCode::Conflict, "another post has this slug; retry")
        }
        _ => ApiError::from(err),
    }
}

fn deps<'a>(ctx: &Context<'a>) -> (&'a Store, &'a Outbox) {
    (
        ctx.data_unchecked::<Store>(),
        ctx.data_unchecked::<Outbox>(),
    )
}

async fn create_post(ctx: &Context<'_>, input: CreatePostInput) -> ApiResult<PostNode> {
    let who = caller::require(ctx)?;
    let title = text::title(&input.title)?;
    let body = text::body(&input.body)?;
    let tags = text::tags(&input.tags)?;
    let slug = text::slug(&title);
    let (store, outbox) = deps(ctx);
    let mut tx = store.pool().begin().await?;
    let new = NewPost {
        id: Uuid::now_v7(),
        author_id: who.user_id,
        title: &title,
        slug: &slug,
        body: &body,
    };
    let post = store::insert_post(&mut tx, &new)
        .await
        .map_err(write_error)?;
    store::set_tags(&mut tx, post.id, &tags)
        .await
        .map_err(write_error)?;
    let event = events::post_event(events::POST_CREATED, &post, &tags, who.user_id);
    outbox.enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(PostNode(post))
}

/// The post `id`, locked for a change by `viewer`: NOT_FOUND when they cannot see it,
/// FORBIDDEN when they see it but may not change it.
async fn post_to_change(tx: &mut db::Tx, viewer: Viewer, id: Uuid) -> ApiResult<Post> {
    let post = store::lock_post(tx, id, Lock::Update)
        .await?
        .filter(|p| viewer.sees(p))
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    viewer.check_may_edit(&post)?;
    Ok(post)
}

async fn update_post(ctx: &Context<'_>, input: UpdatePostInput) -> ApiResult<PostNode> {
    let who = caller::require(ctx)?;
    let id = uuid(&input.id, "post")?;
    let title = input.title.as_deref().map(text::title).transpose()?;
    let body = input.body.as_deref().map(text::body).transpose()?;
    let tags = input.tags.as_deref().map(text::tags).transpose()?;
    if title.is_none() && body.is_none() && tags.is_none() {
        return Err(ApiError::bad_input(
            "give at least one of title, body and tags",
        ));
    }
    let (store, outbox) = deps(ctx);
    let mut tx = store.pool().begin().await?;
    let post = post_to_change(&mut tx, Viewer::of(Some(&who)), id).await?;
    post.check_editable()?;
    let old_tags = store::tags_of(&mut tx, id).await?;
    let mut changed = Vec::new();
    if title.as_ref().is_some_and(|t| *t != post.title) {
        changed.push("title");
    }
    if body.as_ref().is_some_and(|b| *b != post.body) {
        changed.push("body");
    }
    if tags.as_ref().is_some_and(|t| sorted(t) != old_tags) {
        changed.push("tags");
    }
    if changed.is_empty() {
        tx.commit().await?;
        return Ok(PostNode(post));
    }
    let title = title.unwrap_or_else(|| post.title.clone());
    let body = body.unwrap_or_else(|| post.body.clone());
    let post = store::update_post(&mut tx, id, &title, &body).await?;
    let tags = match tags {
        Some(tags) => {
            store::set_tags(&mut tx, id, &tags)
                .await
                .map_err(write_error)?;
            sorted(&tags)
        }
        None => old_tags,
    };
    let event = events::post_updated(&post, &tags, &changed, who.user_id);
    outbox.enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(PostNode(post))
}

fn sorted(tags: &[String]) -> Vec<String> {
    let mut tags = tags.to_vec();
    tags.sort();
    tags
}

async fn transition(ctx: &Context<'_>, id: &ID, step: Transition) -> ApiResult<PostNode> {
    let who = caller::require(ctx)?;
    let id = uuid(id, "post")?;
    let (store, outbox) = deps(ctx);
    let mut tx = store.pool().begin().await?;
    let post = post_to_change(&mut tx, Viewer::of(Some(&who)), id).await?;
    let status = step.apply(post.status)?;
    let post = store::set_status(&mut tx, id, status).await?;
    let tags = store::tags_of(&mut tx, id).await?;
    let event = match step {
        Transition::Publish => {
            events::post_event(events::POST_PUBLISHED, &post, &tags, who.user_id)
        }
        Transition::Archive => events::post_updated(&post, &tags, &["status"], who.user_id),
    };
    outbox.enqueue(&mut tx, &event).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(PostNode(post))
}

async fn add_comment(ctx: &Context<'_>, input: AddCommentInput) -> ApiResult<CommentNode> {
    let who = caller::require(ctx)?;
    let body = text::comment(&input.body)?;
    let post_id = uuid(&input.post_id, "post")?;
    let parent_id = input
        .parent_id
        .as_ref()
        .map(|id| uuid(id, "comment"))
        .transpose()?;
    let viewer = Viewer::of(Some(&who));
    let (store, outbox) = deps(ctx);
    let mut tx = store.pool().begin().await?;
    // A shared lock: the post cannot be archived while the comment goes on it.
    let post = store::lock_post(&mut tx, post_id, Lock::Share)
        .await?
        .filter(|p| viewer.sees(p))
        .ok_or_else(|| ApiError::not_found("no such post"))?;
    let parent = match parent_id {
        Some(id) => Some(
            store::comment(&mut tx, id)
                .await?
                .ok_or_else(|| ApiError::not_found("no such comment on this post"))?,
        ),
        None => None,
    };
    comment::check_placement(&post, parent.as_ref())?;
    let new = Comment {
        id: Uuid::now_v7(),
        post_id,
        author_id: who.user_id,
        parent_id,
        body,
        created_at: Utc::now(),
    };
    let comment = store::insert_comment(&mut tx, &new)
        .await
        .map_err(write_error)?;
    outbox
        .enqueue(&mut tx, &events::comment_added(&post, &comment))
        .await?;
    tx.commit().await?;
    outbox.wake();
    Ok(CommentNode(comment))
}
