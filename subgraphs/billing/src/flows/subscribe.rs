//! Subscribing to a plan: the subscription, its first invoice and the first charge, in one
//! transaction under the request's idempotency key.
//!
//! The subscription row is written before the charge, so a customer who already has a live
//! subscription is refused (by `subscriptions_one_live_per_user`) before any money moves, and a
//! concurrent subscribe with another key waits on that row. A declined first charge leaves the
//! subscription `incomplete` with its invoice open, to be paid with `payInvoice`.

use serde::{Deserialize, Serialize};
use tessera_kit::db::violated_constraint;
use tessera_kit::{ApiError, ErrorCode};
use uuid::Uuid;

use super::idempotency::{Begun, Keyed};
use super::{Billing, issue, now, settle};
use crate::domain::{Invoice, Payment, PaymentStatus, Subscription, SubscriptionStatus};
use crate::events::{Events, types};
use crate::provider::ChargeRequest;
use crate::store;

/// What subscribing produced; stored and replayed under the idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscribed {
    pub subscription: Subscription,
    pub invoice: Invoice,
    pub payment: Payment,
}

impl Billing {
    /// Subscribes `user_id` to `plan_id`, paying with `payment_method`.
    pub async fn subscribe(
        &self,
        user_id: Uuid,
        plan_id: Uuid,
        payment_method: &str,
        idempotency_key: &str,
    ) -> Result<Subscribed, ApiError> {
        let request = Keyed::new(
            user_id,
            idempotency_key,
            "subscribeToPlan",
            &[&plan_id.to_string(), payment_method],
        )?;
        let mut tx = match self.begin_once(&request).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        let plan = store::plans::plan(&mut tx, plan_id)
            .await?
            .ok_or_else(|| ApiError::not_found("no such plan"))?;
        if !plan.active {
            return Err(ApiError::bad_input(
                "this plan is no longer open to new subscriptions",
            ));
        }
        let payment_method = self.payment_method(payment_method).await?;
        let start = now();
        let end = plan
            .interval
            .period_end(start)
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("period end out of range")))?;
        let mut subscription = Subscription {
            id: Uuid::now_v7(),
            user_id,
            plan_id: plan.id,
            status: SubscriptionStatus::Incomplete,
            payment_method,
            current_period_start: start,
            current_period_end: end,
            cancel_at_period_end: false,
            canceled_at: None,
            created_at: start,
        };
        store::subscriptions::insert(&mut tx, &subscription)
            .await
            .map_err(|err| match violated_constraint(&err) {
                Some("subscriptions_one_live_per_user") => ApiError::client(
                    ErrorCode::Conflict,
                    "you already have a live subscription; cancel it before subscribing again",
                ),
                _ => err.into(),
            })?;

        let invoice_id = Uuid::now_v7();
        let line = plan.line(start, end);
        let amount = crate::domain::invoice::total(std::slice::from_ref(&line))
            .map_err(|_| ApiError::bad_input("the invoice total is out of range"))?;
        let outcome = self
            .charge(&ChargeRequest {
                idempotency_key: request.provider_key(),
                amount,
                currency: plan.currency,
                payment_method: subscription.payment_method.clone(),
                description: format!("{} subscription", plan.name),
                customer: user_id,
            })
            .await?;

        let mut events = Events::by(Some(user_id));
        let mut invoice = issue(
            &mut tx,
            invoice_id,
            &subscription,
            &plan,
            (start, end),
            self.settings.invoice_due_days,
            &mut events,
        )
        .await?;
        let payment = self.payment(&invoice, &outcome, now());
        settle(&mut tx, &mut invoice, &payment, &mut events).await?;
        if payment.status == PaymentStatus::Succeeded {
            subscription.status = subscription.status.to(SubscriptionStatus::Active)?;
            store::subscriptions::update(&mut tx, &subscription).await?;
            events.subscription(types::SUBSCRIPTION_STARTED, &subscription, &plan);
        }
        let done = Subscribed {
            subscription,
            invoice,
            payment,
        };
        self.remember(&mut tx, &request, &done).await?;
        events.enqueue(&self.outbox, &mut tx).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(done)
    }
}
