//! Canceling a subscription.
//!
//! By default a subscription is canceled at the end of its current period: the customer paid
//! for it, so it stays active until then, and the renewal job ends it instead of renewing it.
//! `atPeriodEnd: false` ends it now, without a refund; its open invoices are then given up on.
//! An incomplete subscription (never paid) always ends now, and its invoice is voided.
//! The idempotency key is optional: canceling moves no money, and a second cancellation without
//! a key is answered by the subscription's state (already scheduled, or no live subscription).

use tessera_kit::ApiError;
use uuid::Uuid;

use super::idempotency::{Begun, Keyed};
use super::{Billing, end, plan_of};
use crate::domain::subscription::{Cancellation, cancellation};
use crate::domain::{Subscription, SubscriptionStatus};
use crate::events::{Events, types};
use crate::store;

impl Billing {
    /// Cancels `user_id`'s live subscription.
    pub async fn cancel(
        &self,
        user_id: Uuid,
        at_period_end: bool,
        idempotency_key: Option<&str>,
    ) -> Result<Subscription, ApiError> {
        let request = idempotency_key
            .map(|key| {
                Keyed::new(
                    user_id,
                    key,
                    "cancelSubscription",
                    &[if at_period_end {
                        "at_period_end"
                    } else {
                        "now"
                    }],
                )
            })
            .transpose()?;
        let mut tx = match &request {
            Some(request) => match self.begin_once(request).await? {
                Begun::Replay(done) => return Ok(done),
                Begun::Fresh(tx) => tx,
            },
            None => self.store.pool().begin().await?,
        };
        let mut subscription = store::subscriptions::lock_live(&mut tx, user_id)
            .await?
            .ok_or_else(|| ApiError::not_found("you have no live subscription"))?;
        let plan = plan_of(&mut tx, &subscription).await?;
        let mut events = Events::by(Some(user_id));
        match cancellation(
            subscription.status,
            subscription.cancel_at_period_end,
            at_period_end,
        )? {
            Cancellation::Now => {
                end(
                    &mut tx,
                    &mut subscription,
                    &plan,
                    SubscriptionStatus::Canceled,
                    &mut events,
                )
                .await?;
            }
            Cancellation::AtPeriodEnd => {
                subscription.cancel_at_period_end = true;
                store::subscriptions::update(&mut tx, &subscription).await?;
                events.subscription(types::SUBSCRIPTION_CANCEL_SCHEDULED, &subscription, &plan);
            }
            Cancellation::AlreadyScheduled => {}
        }
        if let Some(request) = &request {
            self.remember(&mut tx, request, &subscription).await?;
        }
        events.enqueue(&self.outbox, &mut tx).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(subscription)
    }
}
