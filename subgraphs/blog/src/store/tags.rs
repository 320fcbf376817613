//! Tags: the tags of many posts at once, and replacing a post's tags.

use tessera_kit::db::Tx;
use uuid::Uuid;

use super::Store;

impl Store {
    /// `(post, tag)` pairs for every post in `posts`, tags in name order (dataloader).
    pub async fn tags_by_posts(&self, posts: &[Uuid]) -> sqlx::Result<Vec<(Uuid, String)>> {
        sqlx::query_as(
            "SELECT post_id, tag FROM post_tags WHERE post_id = ANY($1) ORDER BY post_id, tag",
        )
        .bind(posts)
        .fetch_all(self.pool())
        .await
    }
}

/// Makes `tags` (already normalised) the post's tags, creating the ones that are new.
pub async fn set_tags(tx: &mut Tx, post_id: Uuid, tags: &[String]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM post_tags WHERE post_id = $1")
        .bind(post_id)
        .execute(&mut *tx)
        .await?;
    if tags.is_empty() {
        return Ok(());
    }
    sqlx::query("INSERT INTO tags (name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING")
        .bind(tags)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO post_tags (post_id, tag) SELECT $1, unnest($2::text[])")
        .bind(post_id)
        .bind(tags)
        .execute(tx)
        .await?;
    Ok(())
}

/// The post's tags in name order, read inside a transaction that changes the post.
pub async fn tags_of(tx: &mut Tx, post_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT tag FROM post_tags WHERE post_id = $1 ORDER BY tag")
        .bind(post_id)
        .fetch_all(tx)
        .await
}
