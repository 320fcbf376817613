//! The caller as the blog sees them: anonymous, a signed-in user, or a moderator.

use tessera_kit::{ApiError, Caller};
use uuid::Uuid;

use super::{Post, PostStatus};

/// The scope that lets a caller see and change every post.
pub const MODERATE: &str = "blog:moderate";

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    User(Uuid),
    /// Holds `blog:moderate`.
    Moderator(Uuid),
}

/// Which posts a list shows: published ones, plus every post of `own`, or everything. Part of
/// the keys of batched list loads, since one batch may serve several callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Visibility {
    pub everything: bool,
    pub own: Option<Uuid>,
}

impl Visibility {
    /// What anonymous callers see, and what search covers.
    pub const PUBLISHED: Self = Self {
        everything: false,
        own: None,
    };
}

impl Viewer {
    pub fn of(caller: Option<&Caller>) -> Self {
        match caller {
            None => Self::Anonymous,
            Some(c) if c.has_scope(MODERATE) => Self::Moderator(c.user_id),
            Some(c) => Self::User(c.user_id),
        }
    }

    pub fn id(self) -> Option<Uuid> {
        match self {
            Self::Anonymous => None,
            Self::User(id) | Self::Moderator(id) => Some(id),
        }
    }

    pub fn visibility(self) -> Visibility {
        match self {
            Self::Anonymous => Visibility::PUBLISHED,
            Self::User(id) => Visibility {
                everything: false,
                own: Some(id),
            },
            Self::Moderator(id) => Visibility {
                everything: true,
                own: Some(id),
            },
        }
    }

    /// Published posts are public; the others are seen by their author and moderators.
    pub fn sees(self, post: &Post) -> bool {
        let v = self.visibility();
        v.everything || post.status == PostStatus::Published || v.own == Some(post.author_id)
    }

    /// The author and moderators change a post; anyone else is FORBIDDEN.
    pub fn check_may_edit(self, post: &Post) -> Result<(), ApiError> {
        match self {
            Self::Moderator(_) => Ok(()),
            Self::User(id) if id == post.author_id => Ok(()),
            Self::User(_) | Self::Anonymous => Err(ApiError::forbidden(
                "only the author and holders of blog:moderate change a post",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn post(author: Uuid, status: PostStatus) -> Post {
        Post {
            id: Uuid::now_v7(),
            author_id: author,
            title: "t".into(),
            slug: "t".into(),
            body: "b".into(),
            status,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            published_at: None,
        }
    }

    #[test]
    fn drafts_are_seen_and_edited_by_their_author_and_moderators() {
        let (author, stranger, moderator) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let draft = post(author, PostStatus::Draft);
        let published = post(author, PostStatus::Published);
        assert!(Viewer::User(author).sees(&draft));
        assert!(Viewer::Moderator(moderator).sees(&draft));
        assert!(!Viewer::User(stranger).sees(&draft));
        assert!(!Viewer::Anonymous.sees(&draft));
        assert!(Viewer::Anonymous.sees(&published));
        assert!(Viewer::User(author).check_may_edit(&published).is_ok());
        assert!(Viewer::Moderator(moderator).check_may_edit(&draft).is_ok());
        assert!(Viewer::User(stranger).check_may_edit(&published).is_err());
    }
}
