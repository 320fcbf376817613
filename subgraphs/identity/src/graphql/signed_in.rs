//! `AuthPayload`, the tokens of a sign-in, as identity extends it: their `user`.
//!
//! Auth issues the tokens; the user behind them is identity's. The access token is the entity
//! key, and identity verifies it like any other token, so the `user` of a sign-up, a login or a
//! refresh is answered for the token's subject: the person who has just signed in sees their own
//! private fields although the request that signed them in carried no token (ADR 0015).
//!
//! A sign-up's user reaches identity through the `auth.signed_up` projection, a relay and a
//! consumer after auth's commit. For a token issued moments ago whose user is not projected yet,
//! `user` waits for the projection, up to `registration_wait_ms` after the token was issued,
//! and then fails with `REGISTRATION_PENDING`, so the caller who registered never sees a user
//! that does not exist yet.

use std::time::Duration;

use async_graphql::{Context, Object};
use tessera_kit::ApiError;
use tessera_kit::caller::{Caller, TokenVerifier};
use tessera_kit::error::{ApiResult, ErrorCode};

use super::user::UserNode;
use crate::Settings;
use crate::store::Store;

/// First and longest pause between two looks for a user still being projected.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);

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
        let store = ctx.data_unchecked::<Store>();
        let settings = ctx.data_unchecked::<Settings>();
        let wait = registration_window(
            self.holder.issued_at,
            chrono::Utc::now().timestamp_millis(),
            settings.registration_wait_ms,
        );
        let deadline = tokio::time::Instant::now() + wait;
        let mut pause = FIRST_POLL;
        loop {
            if let Some(user) = store
                .user(self.holder.user_id)
                .await
                .map_err(ApiError::from)?
            {
                return Ok(UserNode::to_owner(user));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ApiError::client(
                    ErrorCode::RegistrationPending,
                    "the account exists but is still being set up; sign in again in a moment",
                )
                .into());
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(LONGEST_POLL);
        }
    }
}

/// How long `user` may still wait for the projection of a token issued at `issued_at` (seconds)
/// when it is `now_ms`: what is left of `wait_ms` after the issue (a second more, since `iat`
/// has whole seconds), never more than `wait_ms`.
fn registration_window(issued_at: i64, now_ms: i64, wait_ms: u64) -> Duration {
    let wait = i64::try_from(wait_ms).unwrap_or(i64::MAX);
    let until = issued_at
        .saturating_mul(1000)
        .saturating_add(1000)
        .saturating_add(wait);
    let left = until.saturating_sub(now_ms).clamp(0, wait);
    Duration::from_millis(left.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_token_may_wait_the_whole_window() {
        let now = 1_700_000_000_000;
        assert_eq!(
            registration_window(now / 1000, now, 5000),
            Duration::from_millis(5000)
        );
    }

    #[test]
    fn an_older_token_waits_only_for_what_is_left() {
        let issued = 1_700_000_000;
        let now = issued * 1000 + 4000;
        assert_eq!(
            registration_window(issued, now, 5000),
            Duration::from_millis(2000)
        );
    }

    #[test]
    fn a_token_from_long_ago_does_not_wait() {
        let issued = 1_700_000_000;
        assert_eq!(
            registration_window(issued, issued * 1000 + 60_000, 5000),
            Duration::ZERO
        );
    }

    #[test]
    fn a_token_from_the_future_waits_no_longer_than_the_window() {
        let now = 1_700_000_000_000;
        assert_eq!(
            registration_window(now / 1000 + 3600, now, 5000),
            Duration::from_millis(5000)
        );
    }
}
