//! The blog's rules, free of SQL: posts and their publishing workflow, comments threaded one
//! level deep, tag and text normalisation, and who sees and edits what.
//!
//! - [`post`]: the post model, its statuses and the named transitions between them.
//! - [`comment`]: the comment model and where a comment may go.
//! - [`text`]: limits and normalisation of titles, bodies, tags, slugs and search queries.
//! - [`viewer`]: the caller as the blog sees them, and which posts they may see and change.

pub mod comment;
pub mod post;
pub mod text;
pub mod viewer;

pub use comment::Comment;
pub use post::{Post, PostStatus, Transition};
pub use viewer::{Viewer, Visibility};
