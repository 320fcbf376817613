//! The auth subgraph schema.

use std::sync::Arc;

use async_graphql::{Context, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use tessera_kit::caller::{self, ClientAddr};

use crate::domain::accounts::{Accounts, Issued};
use crate::store;

pub type AuthSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(accounts: Arc<Accounts>) -> AuthSchema {
    tessera_kit::server::schema::defaults(Schema::build(Query, Mutation, EmptySubscription))
        .data(accounts)
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription)
        .enable_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}

// Identity answers `user` (ADR 0015): the access token is the key it is looked up by, so
// identity sees the user as the token's subject, the caller who has just signed in, rather than
// as the anonymous request that asked for the tokens.
/// A signed-in session: its tokens, and the user they belong to.
#[derive(SimpleObject)]
#[graphql(unresolvable = "accessToken")]
pub struct AuthPayload {
    /// A short-lived JWT for the `Authorization: Bearer` header.
    pub access_token: String,
    /// An opaque token for `refreshToken`; it can be used once.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<Issued> for AuthPayload {
    fn from(issued: Issued) -> Self {
        Self {
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            expires_in: issued.expires_in,
        }
    }
}

/// A live session of the signed-in user.
#[derive(SimpleObject)]
pub struct Session {
    pub id: ID,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    pub password: String,
    pub display_name: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user's live sessions.
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Session>> {
        let who = caller::require(ctx)?;
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        let sessions = store::live_sessions(&accounts.pool, who.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok(sessions
            .into_iter()
            .map(|s| Session {
                id: ID(s.id.to_string()),
                created_at: s.created_at,
                last_used_at: s.last_used_at,
            })
            .collect())
    }
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Creates an account and signs it in.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        Ok(accounts
            .sign_up(&input.email, input.password, &input.display_name)
            .await?
            .into())
    }

    /// Signs in with email and password.
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        let client = ctx.data_opt::<ClientAddr>().map(|a| a.0);
        Ok(accounts
            .login(&input.email, input.password, client)
            .await?
            .into())
    }

    /// Trades a refresh token for a new pair. A refresh token works once; presenting a spent one
    /// revokes the session.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        Ok(accounts.refresh(&token).await?.into())
    }

    /// Ends the session of a refresh token. False when it was not live.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        Ok(accounts.logout(&refresh_token).await?)
    }

    /// Ends every session of the signed-in user; returns how many were live.
    async fn logout_all(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let who = caller::require(ctx)?;
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        Ok(accounts.logout_all(who.user_id).await?)
    }

    /// Mails a reset link if the address has an account; always true, so it reveals nothing.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        accounts.request_password_reset(&email).await?;
        Ok(true)
    }

    /// Sets a new password with the emailed token and signs out every session.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let accounts = ctx.data_unchecked::<Arc<Accounts>>();
        accounts.reset_password(&token, new_password).await?;
        Ok(true)
    }
}
