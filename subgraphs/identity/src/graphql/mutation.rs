//! Mutations: profile changes and email verification.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, InputObject, Object};
use chrono::Utc;
use tessera_kit::cache::Counters;
use tessera_kit::error::{ApiResult, ErrorCode};
use tessera_kit::events::{Envelope, Outbox};
use tessera_kit::mail::{Mail, Notifier};
use tessera_kit::{ApiError, caller, opaque};

use super::user::UserNode;
use crate::Settings;
use crate::domain::{self, event_types};
use crate::store::{self, Store};

pub struct Mutation;

/// Profile fields a user may change.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub display_name: String,
}

#[Object]
impl Mutation {
    /// Changes the signed-in user's profile.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<UserNode> {
        let who = caller::require(ctx)?;
        let name = domain::display_name(&input.display_name)?;
        let (store, outbox) = (
            ctx.data_unchecked::<Store>(),
            ctx.data_unchecked::<Outbox>(),
        );
        let mut tx = store.pool().begin().await.map_err(ApiError::from)?;
        let user = store::update_display_name(&mut tx, who.user_id, &name)
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::not_found("no such user"))?;
        let event = Envelope::new(
            crate::NAME,
            event_types::USER_UPDATED,
            user.id.to_string(),
            Some(who.user_id.to_string()),
            serde_json::json!({ "userId": user.id, "displayName": user.display_name }),
        );
        outbox
            .enqueue(&mut tx, &event)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        outbox.wake();
        Ok(UserNode::new(user))
    }

    /// Emails the signed-in user a link that verifies their address.
    async fn request_email_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        Ok(request_verification(ctx).await?)
    }

    /// Spends a verification token from the emailed link.
    async fn verify_email(
        &self,
        ctx: &Context<'_>,
        token: String,
    ) -> async_graphql::Result<UserNode> {
        let (store, outbox) = (
            ctx.data_unchecked::<Store>(),
            ctx.data_unchecked::<Outbox>(),
        );
        let mut tx = store.pool().begin().await.map_err(ApiError::from)?;
        let user = store::verify_email(&mut tx, &opaque::hash(token.trim()))
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| {
                ApiError::client(
                    ErrorCode::InvalidToken,
                    "the verification link is invalid, used or expired",
                )
            })?;
        let event = Envelope::new(
            crate::NAME,
            event_types::USER_EMAIL_VERIFIED,
            user.id.to_string(),
            Some(user.id.to_string()),
            serde_json::json!({ "userId": user.id, "email": user.email }),
        );
        outbox
            .enqueue(&mut tx, &event)
            .await
            .map_err(ApiError::from)?;
        tx.commit().await.map_err(ApiError::from)?;
        outbox.wake();
        // Whoever holds the mailed link controls the address: the user themself.
        Ok(UserNode::to_owner(user))
    }
}

async fn request_verification(ctx: &Context<'_>) -> ApiResult<bool> {
    let who = caller::require(ctx)?;
    let store = ctx.data_unchecked::<Store>();
    let settings = ctx.data_unchecked::<Settings>();
    let user = store
        .user(who.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such user"))?;
    if user.email_verified {
        return Ok(false);
    }
    let counters = ctx.data_unchecked::<Arc<dyn Counters>>();
    let window = counters
        .hit(
            &format!("verify-mail:{}", user.id),
            Duration::from_secs(3600),
        )
        .await?;
    if window.count > settings.verification_requests_per_hour {
        return Err(ApiError::rate_limited(window.resets_in.as_secs().max(1)));
    }
    let (token, hash) = opaque::generate();
    let expires = Utc::now() + chrono::Duration::minutes(settings.verification_ttl_minutes);
    let mut tx = store.pool().begin().await?;
    store::insert_verification(&mut tx, &hash, user.id, &user.email, expires).await?;
    tx.commit().await?;
    let link = format!("{}/verify-email?token={token}", settings.mail.link_base_url);
    ctx.data_unchecked::<Arc<dyn Notifier>>()
        .send(Mail {
            to: user.email.clone(),
            subject: "Verify your email address".to_owned(),
            body: format!(
                "Hello {},\n\nConfirm this address for your Tessera account:\n{link}\n\nToken: {token}\n\nThe link expires in {} minutes.\n",
                user.display_name, settings.verification_ttl_minutes
            ),
        })
        .await
        .map_err(|e| {
            tracing::warn!(error = format!("{e:#}"), "verification mail not sent");
            ApiError::client(ErrorCode::ServiceUnavailable, "the verification mail could not be sent; retry later")
        })?;
    Ok(true)
}
