//! Queries and the entity resolver.

use async_graphql::connection::{Connection, CursorType as _, Edge, EmptyFields, OpaqueCursor};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use tessera_kit::error::ApiResult;
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use super::user::{UserLoader, UserNode, user_id};
use crate::store::Store;

/// Largest page `users` returns.
const MAX_PAGE: i32 = 100;

pub struct Query;

async fn load(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<UserNode>> {
    let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
    let user = loader
        .load_one(id)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    Ok(user.map(UserNode))
}

#[Object]
impl Query {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let who = caller::require(ctx)?;
        Ok(load(ctx, who.user_id).await?)
    }

    /// A user by id.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<UserNode>> {
        Ok(load(ctx, user_id(&id)?).await?)
    }

    /// Every user, oldest first. Requires `users:read`.
    #[graphql(requires_scopes = "users:read")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<OpaqueCursor<Uuid>, UserNode, EmptyFields, EmptyFields>>
    {
        caller::require(ctx)?.require_scope("users:read")?;
        let first = first.unwrap_or(20);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(
                ApiError::bad_input(format!("first must be between 0 and {MAX_PAGE}")).into(),
            );
        }
        let after = match after {
            Some(cursor) => Some(
                OpaqueCursor::<Uuid>::decode_cursor(&cursor)
                    .map_err(|_| ApiError::bad_input("after is not a cursor from this list"))?
                    .0,
            ),
            None => None,
        };
        let store = ctx.data_unchecked::<Store>();
        let mut users = store
            .list(after, i64::from(first) + 1)
            .await
            .map_err(ApiError::from)?;
        let has_next = users.len() > first as usize;
        users.truncate(first as usize);
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(
            users
                .into_iter()
                .map(|u| Edge::new(OpaqueCursor(u.id), UserNode(u))),
        );
        Ok(connection)
    }

    #[graphql(entity)]
    async fn find_user_by_id(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<UserNode>> {
        Ok(load(ctx, user_id(&id)?).await?)
    }
}
