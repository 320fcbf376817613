//! The registration projection, hidden from the caller who has just registered (ADR 0015).
//!
//! A sign-up's user reaches identity through `auth.signed_up`: a relay and a consumer after
//! auth's commit, so for a moment a valid token names a user identity does not have yet. A
//! caller holding such a token (the sign-up's own `AuthPayload.user`, or a `me` sent right
//! after) waits for the projection, up to `registration_wait_ms` after the token was issued,
//! and then gets `REGISTRATION_PENDING`: never a missing user.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::Context;
use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};
use tessera_kit::ApiError;
use tessera_kit::caller::Caller;
use tessera_kit::error::{ApiResult, ErrorCode};
use tokio::time::Instant;
use uuid::Uuid;

use crate::Settings;
use crate::domain::User;
use crate::store::Store;

/// First and longest pause between two looks for a user still being projected.
const FIRST_POLL: Duration = Duration::from_millis(5);
const LONGEST_POLL: Duration = Duration::from_millis(100);

/// What one wait for a user ends with: the user, or nothing by the deadline.
type Outcome = Result<Option<User>, Arc<sqlx::Error>>;

/// The waits in progress, one per user: however many fields of however many requests wait
/// for the same user (aliased `me`s, a batch of sign-ins), this instance looks for it once
/// per pause.
#[derive(Clone, Default)]
pub struct Waits(Arc<Mutex<HashMap<Uuid, Shared<BoxFuture<'static, Outcome>>>>>);

impl Waits {
    /// The wait for `id` until `deadline`, joined if one is already running.
    fn join(
        &self,
        store: &Store,
        id: Uuid,
        deadline: Instant,
    ) -> Shared<BoxFuture<'static, Outcome>> {
        let mut waits = self.0.lock().expect("the waits map is never poisoned");
        if let Some(wait) = waits.get(&id) {
            return wait.clone();
        }
        let (store, registry) = (store.clone(), self.clone());
        let wait = async move {
            let outcome = poll(&store, id, deadline).await;
            registry
                .0
                .lock()
                .expect("the waits map is never poisoned")
                .remove(&id);
            outcome
        }
        .boxed()
        .shared();
        waits.insert(id, wait.clone());
        wait
    }
}

/// Looks for `id` with growing pauses until it is there or `deadline` has passed.
async fn poll(store: &Store, id: Uuid, deadline: Instant) -> Outcome {
    let mut pause = FIRST_POLL;
    loop {
        if let Some(user) = store.user(id).await.map_err(Arc::new)? {
            return Ok(Some(user));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(LONGEST_POLL);
    }
}

/// The user `token` names, once identity has it.
pub async fn projected(ctx: &Context<'_>, token: &Caller) -> ApiResult<User> {
    let store = ctx.data_unchecked::<Store>();
    if let Some(user) = store.user(token.user_id).await? {
        return Ok(user);
    }
    let settings = ctx.data_unchecked::<Settings>();
    let deadline = Instant::now()
        + window(
            token.issued_at,
            chrono::Utc::now().timestamp_millis(),
            settings.registration_wait_ms,
        );
    let waits = ctx.data_unchecked::<Waits>();
    // A wait another caller started may end before this caller's window does.
    while Instant::now() < deadline {
        let outcome = waits.join(store, token.user_id, deadline).await;
        if let Some(user) = outcome.map_err(|e| ApiError::Internal(anyhow::anyhow!(e)))? {
            return Ok(user);
        }
    }
    Err(ApiError::client(
        ErrorCode::RegistrationPending,
        "the account exists but is still being set up; try again in a moment",
    ))
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
