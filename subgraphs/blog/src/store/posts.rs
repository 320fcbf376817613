//! Posts: reads for resolvers and loaders, and the writes of the workflow.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::Tx;
use uuid::Uuid;

use super::{Page, Paged, Store, by_page};
use crate::domain::{Post, PostStatus, Visibility};

#[derive(FromRow)]
pub(super) struct PostRow {
    id: Uuid,
    author_id: Uuid,
    title: String,
    slug: String,
    body: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    published_at: Option<DateTime<Utc>>,
}

impl From<PostRow> for Post {
    fn from(row: PostRow) -> Self {
        Self {
            id: row.id,
            author_id: row.author_id,
            title: row.title,
            slug: row.slug,
            body: row.body,
            status: PostStatus::from_db(&row.status),
            created_at: row.created_at,
            updated_at: row.updated_at,
            published_at: row.published_at,
        }
    }
}

const COLUMNS: &str =
    "id, author_id, title, slug, body, status, created_at, updated_at, published_at";
const P_COLUMNS: &str = "p.id, p.author_id, p.title, p.slug, p.body, p.status, p.created_at, \
     p.updated_at, p.published_at";

/// Filters of the `posts` list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct PostFilter {
    pub status: Option<PostStatus>,
    pub tag: Option<String>,
    pub author_id: Option<Uuid>,
}

/// A ranked search hit.
pub struct Hit {
    pub rank: f32,
    pub post: Post,
}

#[derive(FromRow)]
struct HitRow {
    rank: f32,
    #[sqlx(flatten)]
    post: PostRow,
}

impl Store {
    /// One query for many posts (dataloader).
    pub async fn posts_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Post>> {
        let sql = format!("SELECT {COLUMNS} FROM posts WHERE id = ANY($1)");
        let rows: Vec<PostRow> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(Post::from).collect())
    }

    pub async fn post_by_slug(&self, slug: &str) -> sqlx::Result<Option<Post>> {
        let sql = format!("SELECT {COLUMNS} FROM posts WHERE slug = $1");
        let row: Option<PostRow> = sqlx::query_as(&sql)
            .bind(slug)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(Post::from))
    }

    /// Posts `visibility` shows that match `filter`, newest first, after `after`, at most
    /// `limit`.
    pub async fn posts(
        &self,
        visibility: Visibility,
        filter: &PostFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> sqlx::Result<Vec<Post>> {
        let sql = format!(
            "SELECT {P_COLUMNS} FROM posts p \
             WHERE ($1 OR p.status = 'PUBLISHED' OR p.author_id = $2) \
               AND ($3::text IS NULL OR p.status = $3) \
               AND ($4::uuid IS NULL OR p.author_id = $4) \
               AND ($5::text IS NULL OR EXISTS \
                    (SELECT 1 FROM post_tags t WHERE t.post_id = p.id AND t.tag = $5)) \
               AND ($6::uuid IS NULL OR p.id < $6) \
             ORDER BY p.id DESC LIMIT $7"
        );
        let rows: Vec<PostRow> = sqlx::query_as(&sql)
            .bind(visibility.everything)
            .bind(visibility.own)
            .bind(filter.status.map(PostStatus::as_db))
            .bind(filter.author_id)
            .bind(filter.tag.as_deref())
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(Post::from).collect())
    }

    /// Pages of several authors' posts in one statement, in the order of `pages`.
    pub async fn posts_by_authors(
        &self,
        pages: &[(Page<Uuid>, Visibility)],
    ) -> sqlx::Result<Vec<Vec<Post>>> {
        let sql = format!(
            "SELECT k.ord, {P_COLUMNS} \
             FROM unnest($1::uuid[], $2::uuid[], $3::bigint[], $4::bool[], $5::uuid[]) \
                  WITH ORDINALITY AS k(author_id, after_id, lim, everything, own, ord) \
             CROSS JOIN LATERAL ( \
                 SELECT * FROM posts p \
                 WHERE p.author_id = k.author_id \
                   AND (k.everything OR p.status = 'PUBLISHED' OR p.author_id = k.own) \
                   AND (k.after_id IS NULL OR p.id < k.after_id) \
                 ORDER BY p.id DESC LIMIT k.lim) p \
             ORDER BY k.ord, p.id DESC"
        );
        let rows: Vec<Paged<PostRow>> = sqlx::query_as(&sql)
            .bind(pages.iter().map(|(p, _)| p.parent).collect::<Vec<_>>())
            .bind(pages.iter().map(|(p, _)| p.after).collect::<Vec<_>>())
            .bind(pages.iter().map(|(p, _)| p.limit).collect::<Vec<_>>())
            .bind(pages.iter().map(|(_, v)| v.everything).collect::<Vec<_>>())
            .bind(pages.iter().map(|(_, v)| v.own).collect::<Vec<_>>())
            .fetch_all(self.pool())
            .await?;
        Ok(by_page(pages.len(), rows))
    }

    /// Pages of several tags' posts in one statement, in the order of `pages`.
    pub async fn posts_by_tags(
        &self,
        pages: &[(Page<String>, Visibility)],
    ) -> sqlx::Result<Vec<Vec<Post>>> {
        let sql = format!(
            "SELECT k.ord, {P_COLUMNS} \
             FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::bool[], $5::uuid[]) \
                  WITH ORDINALITY AS k(tag, after_id, lim, everything, own, ord) \
             CROSS JOIN LATERAL ( \
                 SELECT p.* FROM post_tags t JOIN posts p ON p.id = t.post_id \
                 WHERE t.tag = k.tag \
                   AND (k.everything OR p.status = 'PUBLISHED' OR p.author_id = k.own) \
                   AND (k.after_id IS NULL OR t.post_id < k.after_id) \
                 ORDER BY t.post_id DESC LIMIT k.lim) p \
             ORDER BY k.ord, p.id DESC"
        );
        let rows: Vec<Paged<PostRow>> = sqlx::query_as(&sql)
            .bind(
                pages
                    .iter()
                    .map(|(p, _)| p.parent.as_str())
                    .collect::<Vec<_>>(),
            )
            .bind(pages.iter().map(|(p, _)| p.after).collect::<Vec<_>>())
            .bind(pages.iter().map(|(p, _)| p.limit).collect::<Vec<_>>())
            .bind(pages.iter().map(|(_, v)| v.everything).collect::<Vec<_>>())
            .bind(pages.iter().map(|(_, v)| v.own).collect::<Vec<_>>())
            .fetch_all(self.pool())
            .await?;
        Ok(by_page(pages.len(), rows))
    }

    /// Published posts matching `query` (web-search syntax), best first: by rank, then newest.
    /// `after` is the (rank, id) of the last hit of the previous page.
    pub async fn search(
        &self,
        query: &str,
        after: Option<(f32, Uuid)>,
        limit: i64,
    ) -> sqlx::Result<Vec<Hit>> {
        let sql = format!(
            "WITH hits AS ( \
                 SELECT {P_COLUMNS}, ts_rank(p.search, q.query) AS rank \
                 FROM posts p, websearch_to_tsquery('english', $1) AS q(query) \
                 WHERE p.status = 'PUBLISHED' AND p.search @@ q.query) \
             SELECT * FROM hits \
             WHERE $2::real IS NULL OR rank < $2 OR (rank = $2 AND id < $3) \
             ORDER BY rank DESC, id DESC LIMIT $4"
        );
        let rows: Vec<HitRow> = sqlx::query_as(&sql)
            .bind(query)
            .bind(after.map(|(rank, _)| rank))
            .bind(after.map(|(_, id)| id))
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| Hit {
                rank: r.rank,
                post: Post::from(r.post),
            })
            .collect())
    }
}

/// A post to create.
pub struct NewPost<'a> {
    pub id: Uuid,
    pub author_id: Uuid,
    pub title: &'a str,
    pub slug: &'a str,
    pub body: &'a str,
}

/// Attempts at a free slug before giving up (only concurrent creations of the same title race).
const SLUG_ATTEMPTS: usize = 5;

/// Creates a draft. Its slug is `post.slug` when free, otherwise `post.slug` with the next free
/// numeric suffix (`hello`, `hello-2`, `hello-3`, ...).
pub async fn insert_post(tx: &mut Tx, post: &NewPost<'_>) -> sqlx::Result<Post> {
    let insert = format!(
        "INSERT INTO posts (id, author_id, title, slug, body) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT ON CONSTRAINT posts_slug_key DO NOTHING RETURNING {COLUMNS}"
    );
    for _ in 0..SLUG_ATTEMPTS {
        let slug = free_slug(&mut *tx, post.slug).await?;
        let row: Option<PostRow> = sqlx::query_as(&insert)
            .bind(post.id)
            .bind(post.author_id)
            .bind(post.title)
            .bind(&slug)
            .bind(post.body)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            return Ok(Post::from(row));
        }
    }
    Err(sqlx::Error::Protocol(format!(
        "no free slug for {:?} after {SLUG_ATTEMPTS} attempts",
        post.slug
    )))
}

/// `base` when no post has it, otherwise `base-N` with N one past the highest suffix in use.
async fn free_slug(tx: &mut Tx, base: &str) -> sqlx::Result<String> {
    sqlx::query_scalar(
        "SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM posts WHERE slug = $1) THEN $1 \
                ELSE $1 || '-' || (coalesce(max(substring(slug FROM char_length($1) + 2)::bigint), 1) + 1) \
                END \
         FROM posts \
         WHERE slug LIKE $1 || '-%' AND substring(slug FROM char_length($1) + 2) ~ '^[0-9]{1,9}$'",
    )
    .bind(base)
    .fetch_one(tx)
    .await
}

/// How [`lock_post`] locks the row until the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The post is about to change.
    Update,
    /// The post must not change meanwhile (a comment is going on it).
    Share,
}

pub async fn lock_post(tx: &mut Tx, id: Uuid, lock: Lock) -> sqlx::Result<Option<Post>> {
    let mode = match lock {
        Lock::Update => "UPDATE",
        Lock::Share => "SHARE",
    };
    let sql = format!("SELECT {COLUMNS} FROM posts WHERE id = $1 FOR {mode}");
    let row: Option<PostRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    Ok(row.map(Post::from))
}

pub async fn update_post(tx: &mut Tx, id: Uuid, title: &str, body: &str) -> sqlx::Result<Post> {
    let sql = format!(
        "UPDATE posts SET title = $2, body = $3, updated_at = now() WHERE id = $1 \
         RETURNING {COLUMNS}"
    );
    let row: PostRow = sqlx::query_as(&sql)
        .bind(id)
        .bind(title)
        .bind(body)
        .fetch_one(tx)
        .await?;
    Ok(Post::from(row))
}

/// Moves a post to `status`; the first publication stamps `published_at`.
pub async fn set_status(tx: &mut Tx, id: Uuid, status: PostStatus) -> sqlx::Result<Post> {
    let sql = format!(
        "UPDATE posts SET status = $2, updated_at = now(), \
             published_at = CASE WHEN $2 = 'PUBLISHED' THEN coalesce(published_at, now()) \
                                 ELSE published_at END \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    let row: PostRow = sqlx::query_as(&sql)
        .bind(id)
        .bind(status.as_db())
        .fetch_one(tx)
        .await?;
    Ok(Post::from(row))
}
