//! What the blog publishes (topic `blog`). Every event's subject is the post it is about, so a
//! post's events stay in order; the actor is the caller. The blog consumes no other service's
//! events; its live feed reads its own topic for `postPublished` and `commentAdded`.
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

/// What a `post.published` event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub post_id: Uuid,
    pub author_id: Uuid,
}

/// The post and author of a `post.published` event; `None` for any other event.
pub fn published(event: &Envelope) -> Option<Published> {
    if event.kind != POST_PUBLISHED {
        return None;
    }
    Some(Published {
        post_id: uuid_at(&event.data, "postId")?,
        author_id: uuid_at(&event.data, "authorId")?,
    })
}

/// What a `comment.added` event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentAdded {
    pub post_id: Uuid,
    pub comment_id: Uuid,
}

/// The post and comment of a `comment.added` event; `None` for any other event.
pub fn comment_of(event: &Envelope) -> Option<CommentAdded> {
    if event.kind != COMMENT_ADDED {
        return None;
    }
    Some(CommentAdded {
        post_id: uuid_at(&event.data, "postId")?,
        comment_id: uuid_at(&event.data, "commentId")?,
    })
}

fn uuid_at(data: &Value, key: &str) -> Option<Uuid> {
    data.get(key)?.as_str()?.parse().ok()
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

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::PostStatus;

    #[test]
    fn published_and_comment_events_read_back_what_they_name() {
        let post = Post {
            id: Uuid::now_v7(),
            author_id: Uuid::now_v7(),
            title: "t".into(),
            slug: "t".into(),
            body: "b".into(),
            status: PostStatus::Published,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            published_at: Some(Utc::now()),
        };
        let event = post_event(POST_PUBLISHED, &post, &[], post.author_id);
        assert_eq!(
            published(&event),
            Some(Published {
                post_id: post.id,
                author_id: post.author_id
            })
        );
        assert_eq!(comment_of(&event), None);
        assert_eq!(
            published(&post_event(POST_CREATED, &post, &[], post.author_id)),
            None
        );

        let comment = Comment {
            id: Uuid::now_v7(),
            post_id: post.id,
            author_id: Uuid::now_v7(),
            parent_id: None,
            body: "c".into(),
            created_at: Utc::now(),
        };
        let event = comment_added(&post, &comment);
        assert_eq!(
            comment_of(&event),
            Some(CommentAdded {
                post_id: post.id,
                comment_id: comment.id
            })
        );
        assert_eq!(published(&event), None);
    }
}
