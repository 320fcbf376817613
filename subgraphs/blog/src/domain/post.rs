//! Posts and their publishing workflow.
//!
//! ```text
//! DRAFT --publish--> PUBLISHED --archive--> ARCHIVED
//!   \------------------archive-----------------^
//! ```
//! Archived posts are read-only and stay archived.

use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use tessera_kit::error::ErrorCode;
use uuid::Uuid;

/// Where a post is in its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
pub enum PostStatus {
    /// Being written; only the author and moderators see it.
    Draft,
    /// Public.
    Published,
    /// Withdrawn: read-only, seen by the author and moderators only.
    Archived,
}

impl PostStatus {
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Published => "PUBLISHED",
            Self::Archived => "ARCHIVED",
        }
    }

    pub fn from_db(value: &str) -> Self {
        match value {
            "PUBLISHED" => Self::Published,
            "ARCHIVED" => Self::Archived,
            _ => Self::Draft,
        }
    }
}

/// A blog post. The body is markdown, stored as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub id: Uuid,
    pub author_id: Uuid,
    pub title: String,
    pub slug: String,
    pub body: String,
    pub status: PostStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
}

impl Post {
    /// Title and body may change unless the post is archived.
    pub fn check_editable(&self) -> Result<(), ApiError> {
        if self.status == PostStatus::Archived {
            return Err(ApiError::client(
                ErrorCode::Conflict,
                "an archived post is read-only",
            ));
        }
        Ok(())
    }
}

/// A named step of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Publish,
    Archive,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Archive => "archive",
        }
    }

    /// The status a post in `from` moves to, or CONFLICT when the step does not start there.
    pub fn apply(self, from: PostStatus) -> Result<PostStatus, ApiError> {
        match (self, from) {
            (Self::Publish, PostStatus::Draft) => Ok(PostStatus::Published),
            (Self::Archive, PostStatus::Draft | PostStatus::Published) => Ok(PostStatus::Archived),
            (Self::Publish | Self::Archive, _) => Err(ApiError::client(
                ErrorCode::Conflict,
                format!(
                    "a {} post cannot {}",
                    from.as_db().to_lowercase(),
                    self.name()
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_workflow() {
        use PostStatus::{Archived, Draft, Published};
        assert_eq!(
            Transition::Publish.apply(Draft).expect("draft publishes"),
            Published
        );
        assert_eq!(
            Transition::Archive.apply(Published).expect("archives"),
            Archived
        );
        assert_eq!(
            Transition::Archive.apply(Draft).expect("archives"),
            Archived
        );
        for (step, from) in [
            (Transition::Publish, Published),
            (Transition::Publish, Archived),
            (Transition::Archive, Archived),
        ] {
            let err = step.apply(from).expect_err("refused");
            assert_eq!(err.code(), ErrorCode::Conflict);
        }
    }
}
