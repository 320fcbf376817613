//! sqlx queries against the `blog` schema. Every query is parameterised; every list a parent
//! owns (an author's posts, a post's comments, ...) loads for many parents in one statement.
//!
//! - [`posts`]: posts by id, slug, filter and parent (author or tag), search, and their writes.
//! - [`comments`]: comment pages per post, replies per comment, and new comments.
//! - [`tags`]: tags per post and their replacement.

pub mod comments;
pub mod posts;
pub mod tags;

use tessera_kit::db::Db;
use uuid::Uuid;

pub use comments::{comment, insert_comment};
pub use posts::{Lock, NewPost, PostFilter, insert_post, lock_post, set_status, update_post};
pub use tags::{set_tags, tags_of};

/// The blog schema.
#[derive(Clone)]
pub struct Store {
    pool: Db,
}

impl Store {
    pub fn new(pool: Db) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Db {
        &self.pool
    }
}

/// One page of a parent's list: the parent, the id after which it starts, and how many rows to
/// read (callers ask for one more than they show, to learn whether a next page exists).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Page<P> {
    pub parent: P,
    pub after: Option<Uuid>,
    pub limit: i64,
}

/// A row of a batched page query, tagged with the 1-based position of the page it belongs to.
#[derive(sqlx::FromRow)]
struct Paged<T> {
    ord: i64,
    #[sqlx(flatten)]
    row: T,
}

/// Groups the rows of a batched page query by page, in the order the pages were asked for.
fn by_page<R, T: From<R>>(pages: usize, rows: Vec<Paged<R>>) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = (0..pages).map(|_| Vec::new()).collect();
    for Paged { ord, row } in rows {
        if let Some(page) = usize::try_from(ord - 1).ok().and_then(|i| out.get_mut(i)) {
            page.push(T::from(row));
        }
    }
    out
}
