//! The `Comment` type.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};

use super::loaders::{self, RepliesLoader};
use super::user::UserRef;
use crate::domain::Comment;

/// A comment as the schema shows it.
pub struct CommentNode(pub Comment);

#[Object(name = "Comment")]
impl CommentNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// As the commenter wrote it.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn author(&self) -> UserRef {
        UserRef(self.0.author_id)
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The top-level comment this one replies to; null for a top-level comment.
    async fn parent_id(&self) -> Option<ID> {
        self.0.parent_id.map(|id| ID(id.to_string()))
    }

    /// Replies, oldest first (the first 100); always empty under a reply, since comments
    /// thread one level deep.
    async fn replies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<CommentNode>> {
        if self.0.parent_id.is_some() {
            return Ok(Vec::new());
        }
        let loader = ctx.data_unchecked::<DataLoader<RepliesLoader>>();
        let replies = loaders::list(loader, self.0.id).await?;
        Ok(replies.into_iter().map(CommentNode).collect())
    }
}
