//! Batch loaders: every entity lookup and every per-parent list costs one statement per batch,
//! however many parents a response holds. Paged lists are keyed by (parent, page, visibility),
//! since one batch may serve callers who see different posts.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use tessera_kit::ApiError;
use tessera_kit::error::ApiResult;
use uuid::Uuid;

use crate::domain::{Comment, Post, Visibility};
use crate::store::{Page, Store};

/// Replies shown under a comment.
pub const MAX_REPLIES: i64 = 100;

type LoadError = Arc<sqlx::Error>;

/// Pairs each key with its page of results (empty pages included, so every key resolves).
fn keyed<K: Clone + Eq + Hash, V>(keys: &[K], pages: Vec<Vec<V>>) -> HashMap<K, Vec<V>> {
    keys.iter().cloned().zip(pages).collect()
}

/// Groups `items` by `parent`, with an empty list for every key that has none.
fn grouped<V>(keys: &[Uuid], items: Vec<V>, parent: impl Fn(&V) -> Uuid) -> HashMap<Uuid, Vec<V>> {
    let mut out: HashMap<Uuid, Vec<V>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for item in items {
        out.entry(parent(&item)).or_default().push(item);
    }
    out
}

/// Posts by id.
pub struct PostLoader(pub Store);

impl Loader<Uuid> for PostLoader {
    type Value = Post;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Post>, LoadError> {
        let posts = self.0.posts_by_ids(keys).await.map_err(Arc::new)?;
        Ok(posts.into_iter().map(|p| (p.id, p)).collect())
    }
}

/// A page of an author's posts.
pub type AuthorPage = (Page<Uuid>, Visibility);

/// Pages of authors' posts.
pub struct AuthorPostsLoader(pub Store);

impl Loader<AuthorPage> for AuthorPostsLoader {
    type Value = Vec<Post>;
    type Error = LoadError;

    async fn load(&self, keys: &[AuthorPage]) -> Result<HashMap<AuthorPage, Vec<Post>>, LoadError> {
        let pages = self.0.posts_by_authors(keys).await.map_err(Arc::new)?;
        Ok(keyed(keys, pages))
    }
}

/// A page of a tag's posts.
pub type TagPage = (Page<String>, Visibility);

/// Pages of tags' posts.
pub struct TagPostsLoader(pub Store);

impl Loader<TagPage> for TagPostsLoader {
    type Value = Vec<Post>;
    type Error = LoadError;

    async fn load(&self, keys: &[TagPage]) -> Result<HashMap<TagPage, Vec<Post>>, LoadError> {
        let pages = self.0.posts_by_tags(keys).await.map_err(Arc::new)?;
        Ok(keyed(keys, pages))
    }
}

/// Pages of posts' top-level comments.
pub struct CommentsLoader(pub Store);

impl Loader<Page<Uuid>> for CommentsLoader {
    type Value = Vec<Comment>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[Page<Uuid>],
    ) -> Result<HashMap<Page<Uuid>, Vec<Comment>>, LoadError> {
        let pages = self.0.comment_pages(keys).await.map_err(Arc::new)?;
        Ok(keyed(keys, pages))
    }
}

/// Replies by the comment they answer.
pub struct RepliesLoader(pub Store);

impl Loader<Uuid> for RepliesLoader {
    type Value = Vec<Comment>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Comment>>, LoadError> {
        let replies = self.0.replies(keys, MAX_REPLIES).await.map_err(Arc::new)?;
        Ok(grouped(keys, replies, |c| c.parent_id.unwrap_or_default()))
    }
}

/// Tag names by post.
pub struct TagsLoader(pub Store);

impl Loader<Uuid> for TagsLoader {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<String>>, LoadError> {
        let pairs = self.0.tags_by_posts(keys).await.map_err(Arc::new)?;
        let tags = grouped(keys, pairs, |(post, _)| *post);
        Ok(tags
            .into_iter()
            .map(|(post, pairs)| (post, pairs.into_iter().map(|(_, tag)| tag).collect()))
            .collect())
    }
}

/// Loads one key through `loader`; a key the loader did not return is `None`.
pub async fn one<L, K>(loader: &DataLoader<L>, key: K) -> ApiResult<Option<L::Value>>
where
    L: Loader<K, Error = LoadError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
{
    loader
        .load_one(key)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))
}

/// Loads one list through `loader`; a key the loader did not return is an empty list.
pub async fn list<L, K, V>(loader: &DataLoader<L>, key: K) -> ApiResult<Vec<V>>
where
    L: Loader<K, Value = Vec<V>, Error = LoadError>,
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
{
    Ok(one(loader, key).await?.unwrap_or_default())
}
