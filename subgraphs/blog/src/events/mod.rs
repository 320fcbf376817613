//! What the blog publishes (topic `blog`). Every event's subject is the post it is about, so a
//! post's events stay in order; the actor is the caller. The blog consumes no events.
//!
//! | type | when | data |
//! |---|---|---|
//! | `post.created` | a draft is created | the post |
//! | `post.published` | a draft is published | the post |
//! | `post.updated` | title, body or tags change, or the post is archived | the post, `changed` |
//! | `comment.added` | a comment or reply is added | `postId`, `commentId`, `authorId`, `parentId`, `postAuthorId` |
//!
//! "The post" is `postId`, `authorId`, `title`, `slug`, `status`, `tags` and `publishedAt`.

use serde_json::{Value, json};
use tessera_kit::events::Envelope;
use uuid::Uuid;

use crate::domain::{Comment, Post};

pub const POST_CREATED: &str = "post.created";
pub const POST_PUBLISHED: &str = "post.published";
pub const POST_UPDATED: &str = "post.updated";
pub const COMMENT_ADDED: &str = "comment.added";

fn post_data(post: &Post, tags: &[String]) -> Value {
    json!({
        "postId": post.id,
        "authorId": post.author_id,
        "title": post.title,
        "slug": post.slug,
        "status": post.status.as_db(),
        "tags": tags,
        "publishedAt": post.published_at,
    })
}

/// An event about `post`, caused by `actor`.
pub fn post_event(kind: &str, post: &Post, tags: &[String], actor: Uuid) -> Envelope {
    Envelope::new(
        crate::NAME,
        kind,
        post.id.to_string(),
        Some(actor.to_string()),
        post_data(post, tags),
    )
}

/// `post.updated`, naming what changed (`title`, `body`, `tags`, `status`).
pub fn post_updated(post: &Post, tags: &[String], changed: &[&str], actor: Uuid) -> Envelope {
    let mut event = post_event(POST_UPDATED, post, tags, actor);
    event.data["changed"] = json!(changed);
    event
}

/// `comment.added` on `post`.
pub fn comment_added(post: &Post, comment: &Comment) -> Envelope {
    Envelope::new(
        crate::NAME,
        COMMENT_ADDED,
        post.id.to_string(),
        Some(comment.author_id.to_string()),
        json!({
            "postId": post.id,
            "commentId": comment.id,
            "authorId": comment.author_id,
            "parentId": comment.parent_id,
            "postAuthorId": post.author_id,
        }),
    )
}
