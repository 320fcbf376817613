//! The registration projection, hidden from the caller who has just registered (ADR 0015).
//!
//! A sign-up's user reaches identity through `auth.signed_up`: a relay and a consumer after
//! auth's commit, so for a moment a valid token names a user identity does not have yet. A
//! caller holding such a token (the sign-up's own `AuthPayload.user`, or a `me` sent right
//! after) waits for the projection, up to `registration_wait_ms` after the token was issued,
//! and then gets `REGISTRATION_PENDING`: never a missing user.

use std::time::Duration;

use async_graphql::Context;
use tessera_kit::ApiError;
use tessera_kit::caller::Caller;
use tessera_kit::error::{ApiResult, ErrorCode};

use crate::Settings;
use crate::domain::User;
use crate::store::Store;

/// First and longest pause between two looks for a user still being projected.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);

/// The user `token` names, once identity has it.
pub async fn projected(ctx: &Context<'_>, token: &Caller) -> ApiResult<User> {
    let store = ctx.data_unchecked::<Store>();
    let settings = ctx.data_unchecked::<Settings>();
    let wait = window(
        token.issued_at,
        chrono::Utc::now().timestamp_millis(),
        settings.registration_wait_ms,
    );
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = FIRST_POLL;
    loop {
        if let Some(user) = store.user(token.user_id).await? {
            return Ok(user);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Err(ApiError::client(
                ErrorCode::RegistrationPending,
                "the account exists but is still being set up; try again in a moment",
            ));
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_POLL);
    }
}

/// How long a caller may still wait for the projection of a token issued at `issued_at`
/// (seconds) when it is `now_ms`: what is left of `wait_ms` after the issue (a second more,
/// since `iat` has whole seconds), never more than `wait_ms`.
fn window(issued_at: i64, now_ms: i64, wait_ms: u64) -> Duration {
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
        assert_eq!(window(now / 1000, now, 5000), Duration::from_millis(5000));
    }

    #[test]
    fn an_older_token_waits_only_for_what_is_left() {
        let issued = 1_700_000_000;
        let now = issued * 1000 + 4000;
        assert_eq!(window(issued, now, 5000), Duration::from_millis(2000));
    }

    #[test]
    fn a_token_from_long_ago_does_not_wait() {
        let issued = 1_700_000_000;
        assert_eq!(window(issued, issued * 1000 + 60_000, 5000), Duration::ZERO);
    }

    #[test]
    fn a_token_from_the_future_waits_no_longer_than_the_window() {
        let now = 1_700_000_000_000;
        assert_eq!(
            window(now / 1000 + 3600, now, 5000),
            Duration::from_millis(5000)
        );
    }
}
