//! `searchPosts`: its own connection type, whose edges carry the rank and whose cursors carry
//! (rank, id), the keyset of a ranked list.

use async_graphql::connection::{
    Connection, ConnectionNameType, Edge, EdgeNameType, EmptyFields, OpaqueCursor,
};
use async_graphql::{Context, OutputType, SimpleObject};
use serde::{Deserialize, Serialize};
use tessera_kit::ApiError;
use tessera_kit::error::ApiResult;
use uuid::Uuid;

use super::page::Window;
use super::post::PostNode;
use crate::domain::text;
use crate::store::Store;

/// Where a search page ends: the last hit's rank and id.
#[derive(Serialize, Deserialize)]
pub struct SearchCursor {
    rank: f32,
    id: Uuid,
}

pub struct SearchConnectionName;

impl ConnectionNameType for SearchConnectionName {
    fn type_name<T: OutputType>() -> String {
        "PostSearchConnection".to_owned()
    }
}

pub struct SearchEdgeName;

impl EdgeNameType for SearchEdgeName {
    fn type_name<T: OutputType>() -> String {
        "PostSearchEdge".to_owned()
    }
}

/// What a search edge adds to its post.
#[derive(SimpleObject)]
pub struct SearchRank {
    /// How well the post matches the query (PostgreSQL `ts_rank`); higher is better.
    pub rank: f64,
}

pub type SearchConnection = Connection<
    OpaqueCursor<SearchCursor>,
    PostNode,
    EmptyFields,
    SearchRank,
    SearchConnectionName,
    SearchEdgeName,
>;

pub async fn search_posts(
    ctx: &Context<'_>,
    query: &str,
    first: Option<i32>,
    after: Option<String>,
) -> ApiResult<SearchConnection> {
    let query = text::query(query)?;
    let window = Window::<OpaqueCursor<SearchCursor>>::new(first, after)?;
    let after = window.after.as_ref().map(|c| (c.0.rank, c.0.id));
    let mut hits = ctx
        .data_unchecked::<Store>()
        .search(&query, after, window.limit())
        .await
        .map_err(ApiError::from)?;
    let has_next = hits.len() > window.first;
    hits.truncate(window.first);
    let mut connection = SearchConnection::new(after.is_some(), has_next);
    connection.edges.extend(hits.into_iter().map(|hit| {
        let cursor = OpaqueCursor(SearchCursor {
            rank: hit.rank,
            id: hit.post.id,
        });
        let rank = SearchRank {
            rank: f64::from(hit.rank),
        };
        Edge::with_additional_fields(cursor, PostNode(hit.post), rank)
    }));
    Ok(connection)
}
