//! Comments: on published posts only, threaded one level deep.

use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use tessera_kit::error::ErrorCode;
use uuid::Uuid;

use super::{Post, PostStatus};

/// A comment on a post; a reply when it has a parent.
#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub author_id: Uuid,
    /// The top-level comment this replies to.
    pub parent_id: Option<Uuid>,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// Checks that a comment may go on `post`, under `parent` when it is a reply. The caller has
/// already made sure the post is visible to the commenter.
pub fn check_placement(post: &Post, parent: Option<&Comment>) -> Result<(), ApiError> {
    if post.status != PostStatus::Published {
        return Err(ApiError::client(
            ErrorCode::Conflict,
            "comments are open on published posts only",
        ));
    }
    let Some(parent) = parent else {
        return Ok(());
    };
    if parent.post_id != post.id {
        return Err(ApiError::not_found("no such comment on this post"));
    }
    if parent.parent_id.is_some() {
        return Err(ApiError::client(
            ErrorCode::ReplyTooDeep,
            "replies cannot be replied to; reply to the top-level comment instead",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(status: PostStatus) -> Post {
        Post {
            id: Uuid::now_v7(),
            author_id: Uuid::now_v7(),
            title: "t".into(),
            slug: "t".into(),
            body: "b".into(),
            status,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            published_at: None,
        }
    }

    fn comment(post: &Post, parent: Option<Uuid>) -> Comment {
        Comment {
            id: Uuid::now_v7(),
            post_id: post.id,
            author_id: Uuid::now_v7(),
            parent_id: parent,
            body: "c".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn comments_thread_one_level_on_published_posts() {
        let published = post(PostStatus::Published);
        let top = comment(&published, None);
        let reply = comment(&published, Some(top.id));
        assert!(check_placement(&published, None).is_ok());
        assert!(check_placement(&published, Some(&top)).is_ok());
        assert_eq!(
            check_placement(&published, Some(&reply))
                .expect_err("too deep")
                .code(),
            ErrorCode::ReplyTooDeep
        );
        let other = post(PostStatus::Published);
        assert_eq!(
            check_placement(&other, Some(&top))
                .expect_err("other post")
                .code(),
            ErrorCode::NotFound
        );
        for status in [PostStatus::Draft, PostStatus::Archived] {
            assert_eq!(
                check_placement(&post(status), None)
                    .expect_err("closed")
                    .code(),
                ErrorCode::Conflict
            );
        }
    }
}
