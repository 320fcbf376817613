//! Comments: by id, a page of top-level comments per post, the replies of many comments, new
//! comments.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::Tx;
use uuid::Uuid;

use super::{Page, Paged, Store, by_page};
use crate::domain::Comment;

#[derive(FromRow)]
pub(super) struct CommentRow {
    id: Uuid,
    post_id: Uuid,
    author_id: Uuid,
    parent_id: Option<Uuid>,
    body: String,
    created_at: DateTime<Utc>,
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Self {
            id: row.id,
            post_id: row.post_id,
            author_id: row.author_id,
            parent_id: row.parent_id,
            body: row.body,
            created_at: row.created_at,
        }
    }
}

const COLUMNS: &str = "id, post_id, author_id, parent_id, body, created_at";
const C_COLUMNS: &str = "c.id, c.post_id, c.author_id, c.parent_id, c.body, c.created_at";

impl Store {
    /// Comments by id, in one statement.
    pub async fn comments_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Comment>> {
        let sql = format!("SELECT {COLUMNS} FROM comments WHERE id = ANY($1)");
        let rows: Vec<CommentRow> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(Comment::from).collect())
    }

    /// Pages of several posts' top-level comments, oldest first, in one statement.
    pub async fn comment_pages(&self, pages: &[Page<Uuid>]) -> sqlx::Result<Vec<Vec<Comment>>> {
        let sql = format!(
            "SELECT k.ord, {C_COLUMNS} \
             FROM unnest($1::uuid[], $2::uuid[], $3::bigint[]) \
                  WITH ORDINALITY AS k(post_id, after_id, lim, ord) \
             CROSS JOIN LATERAL ( \
                 SELECT * FROM comments c \
                 WHERE c.post_id = k.post_id AND c.parent_id IS NULL \
                   AND (k.after_id IS NULL OR c.id > k.after_id) \
                 ORDER BY c.id LIMIT k.lim) c \
             ORDER BY k.ord, c.id"
        );
        let rows: Vec<Paged<CommentRow>> = sqlx::query_as(&sql)
            .bind(pages.iter().map(|p| p.parent).collect::<Vec<_>>())
            .bind(pages.iter().map(|p| p.after).collect::<Vec<_>>())
            .bind(pages.iter().map(|p| p.limit).collect::<Vec<_>>())
            .fetch_all(self.pool())
            .await?;
        Ok(by_page(pages.len(), rows))
    }

    /// The first `each` replies of every comment in `parents`, oldest first, in one statement.
    pub async fn replies(&self, parents: &[Uuid], each: i64) -> sqlx::Result<Vec<Comment>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM ( \
                 SELECT c.*, row_number() OVER (PARTITION BY c.parent_id ORDER BY c.id) AS n \
                 FROM comments c WHERE c.parent_id = ANY($1)) r \
             WHERE n <= $2 ORDER BY parent_id, id"
        );
        let rows: Vec<CommentRow> = sqlx::query_as(&sql)
            .bind(parents)
            .bind(each)
            .fetch_all(self.pool())
            .await?;
        Ok(rows.into_iter().map(Comment::from).collect())
    }
}

/// A comment by id, read inside the transaction that replies to it.
pub async fn comment(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Comment>> {
    let sql = format!("SELECT {COLUMNS} FROM comments WHERE id = $1");
    let row: Option<CommentRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    Ok(row.map(Comment::from))
}

pub async fn insert_comment(tx: &mut Tx, comment: &Comment) -> sqlx::Result<Comment> {
    let sql = format!(
        "INSERT INTO comments (id, post_id, author_id, parent_id, body) \
         VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
    );
    let row: CommentRow = sqlx::query_as(&sql)
        .bind(comment.id)
        .bind(comment.post_id)
        .bind(comment.author_id)
        .bind(comment.parent_id)
        .bind(&comment.body)
        .fetch_one(tx)
        .await?;
    Ok(Comment::from(row))
}
