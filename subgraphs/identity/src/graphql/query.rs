//! Queries and the entity resolver.

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use tessera_kit::error::ApiResult;
use tessera_kit::page::{Conn, Window};
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use super::registration;
use super::signed_in::SignedIn;
use super::user::{UserLoader, UserNode, user_id};
use crate::store::Store;

pub struct Query;

async fn load(ctx: &Context<'_>, id: Uuid) -> ApiResult<Option<UserNode>> {
    let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
    let user = loader
        .load_one(id)
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))?;
    Ok(user.map(UserNode::new))
}

#[Object]
impl Query {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let who = caller::require(ctx)?;
        if let Some(user) = load(ctx, who.user_id).await? {
            return Ok(Some(user));
        }
        // A token auth issued names an account; identity may not have it yet.
        Ok(Some(UserNode::new(
            registration::projected(ctx, &who).await?,
        )))
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
    ) -> async_graphql::Result<Conn<OpaqueCursor<Uuid>, UserNode>> {
        caller::require(ctx)?.require_scope("users:read")?;
        let window = Window::<OpaqueCursor<Uuid>>::new(first, after)?;
        let store = ctx.data_unchecked::<Store>();
        let users = store
            .list(window.after.as_ref().map(|c| c.0), window.limit())
            .await
            .map_err(ApiError::from)?;
        Ok(window.connection(users, |u| OpaqueCursor(u.id), UserNode::new))
    }

    /// The tokens of a sign-in, looked up by their access token (which must verify), so that
    /// their `user` is answered for the token's subject.
    #[graphql(entity)]
    async fn find_auth_payload_by_access_token(
        &self,
        ctx: &Context<'_>,
        access_token: String,
    ) -> async_graphql::Result<SignedIn> {
        Ok(SignedIn::verify(ctx, access_token).await?)
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
