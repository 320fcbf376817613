//! `AuthPayload`, the tokens of a sign-in, as identity extends it: their `user`.
//!
//! Auth issues the tokens; the user behind them is identity's. The access token is the entity
//! key, and identity verifies it like any other token, so the `user` of a sign-up, a login or a
//! refresh is answered for the token's subject: the person who has just signed in sees their own
//! private fields although the request that signed them in carried no token (ADR 0015).
//!
//! A sign-up's user may not be projected yet; `user` waits for it ([`registration`]).

use async_graphql::{Context, Object};
use tessera_kit::caller::{Caller, TokenVerifier};
use tessera_kit::error::ApiResult;

use super::registration;
use super::user::UserNode;

/// A sign-in's tokens, with the caller their access token names.
pub struct SignedIn {
    access_token: String,
    holder: Caller,
}

impl SignedIn {
    /// The sign-in `access_token` belongs to; fails unless the token verifies.
    pub async fn verify(ctx: &Context<'_>, access_token: String) -> ApiResult<Self> {
        let verifier = ctx.data_unchecked::<std::sync::Arc<TokenVerifier>>();
        let holder = verifier.verify(&access_token).await?;
        Ok(Self {
            access_token,
            holder,
        })
    }
}

#[Object(name = "AuthPayload")]
impl SignedIn {
    /// A short-lived JWT for the `Authorization: Bearer` header.
    async fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The signed-in user, as they see themselves.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<UserNode> {
        Ok(UserNode::to_owner(
            registration::projected(ctx, &self.holder).await?,
        ))
    }
}
