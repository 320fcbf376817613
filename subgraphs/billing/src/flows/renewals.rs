//! The renewal job: when a subscription's period ends, it issues the next period's invoice,
//! advances the period and charges the payment method on file.
//!
//! - A successful charge pays the invoice; the subscription stays active (`subscription.renewed`).
//! - A declined charge leaves the invoice open and makes the subscription past due; the customer
//!   pays it with `payInvoice`.
//! - A subscription set to cancel at the period's end is canceled instead of renewed, and one
//!   still past due when its period ends is canceled too (its unpaid invoices become
//!   uncollectible).
//! - Incomplete subscriptions whose first invoice stays unpaid for `incomplete_expiry_hours`
//!   expire, and their invoice is voided.
//! - Idempotency keys older than `idempotency_retention_hours` are forgotten.
//!
//! Periods follow each other without gaps: a subscription more than one period behind (the job
//! was stopped) is renewed once per missed period, each with its own invoice.
//!
//! Each subscription is handled in its own transaction, taken with `FOR UPDATE SKIP LOCKED`,
//! so several instances share the work and none handles a subscription another holds; once
//! committed, the advanced period takes it off the due list. The renewal charge's provider key
//! is derived from the subscription and the period, so a renewal retried after a crash does not
//! charge twice, and `invoices_one_per_period` refuses a second invoice for one period.

use std::time::Duration;

use tessera_kit::ApiError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Billing, end, issue, now, plan_of, settle};
use crate::domain::{PaymentStatus, SubscriptionStatus};
use crate::events::{Events, types};
use crate::provider::{ChargeError, ChargeRequest};
use crate::store;

/// What one pass of the job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Subscriptions that got their next invoice.
    pub renewed: usize,
    /// Subscriptions canceled at their period's end.
    pub ended: usize,
    /// Incomplete subscriptions that expired.
    pub expired: usize,
}

enum Renewal {
    Renewed,
    Ended,
}

/// A client error here is a state the job cannot act on; it goes to the log like any failure.
fn logged(err: ApiError) -> anyhow::Error {
    match err {
        ApiError::Internal(err) => err,
        ApiError::Client { code, message, .. } => anyhow::anyhow!("{code}: {message}"),
    }
}

impl Billing {
    /// Runs a pass every `renewal_interval_ms` until `cancel` fires.
    pub async fn run_renewals(self, cancel: CancellationToken) -> anyhow::Result<()> {
        let every = Duration::from_millis(self.settings.renewal_interval_ms.max(10));
        loop {
            match self.renew_due().await {
                Ok(pass) if pass != Pass::default() => {
                    tracing::info!(
                        renewed = pass.renewed,
                        ended = pass.ended,
                        expired = pass.expired,
                        "renewal pass"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(
                    error = format!("{err:#}"),
                    "renewal pass failed; retrying next interval"
                ),
            }
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// One pass: renews or ends up to `renewal_batch_size` due subscriptions, expires stale
    /// incomplete ones, and forgets old idempotency keys.
    pub async fn renew_due(&self) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        for _ in 0..self.settings.renewal_batch_size {
            match self.renew_next().await.map_err(logged)? {
                Some(Renewal::Renewed) => pass.renewed += 1,
                Some(Renewal::Ended) => pass.ended += 1,
                None => break,
            }
        }
        pass.expired = self.expire_incomplete().await.map_err(logged)?;
        store::idempotency::purge(self.store.pool(), self.settings.idempotency_retention_hours)
            .await?;
        Ok(pass)
    }

    async fn renew_next(&self) -> Result<Option<Renewal>, ApiError> {
        let mut tx = self.store.pool().begin().await?;
        let Some(mut subscription) = store::subscriptions::lock_next_due(&mut tx).await? else {
            return Ok(None);
        };
        let plan = plan_of(&mut tx, &subscription).await?;
        let mut events = Events::by(None);
        let renewal = if subscription.cancel_at_period_end
            || subscription.status == SubscriptionStatus::PastDue
        {
            end(
                &mut tx,
                &mut subscription,
                &plan,
                SubscriptionStatus::Canceled,
                &mut events,
            )
            .await?;
            Renewal::Ended
        } else {
            let start = subscription.current_period_end;
            let period_end = plan
                .interval
                .period_end(start)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("period end out of range")))?;
            let line = plan.line(start, period_end);
            let amount = crate::domain::invoice::total(std::slice::from_ref(&line))
                .map_err(|_| ApiError::Internal(anyhow::anyhow!("invoice total out of range")))?;
            let request = ChargeRequest {
                idempotency_key: format!(
                    "renewal_{}_{}",
                    subscription.id.simple(),
                    start.timestamp_micros()
                ),
                amount,
                currency: plan.currency,
                payment_method: subscription.payment_method.clone(),
                description: format!("{} subscription", plan.name),
                customer: subscription.user_id,
            };
            let outcome = match self.provider.charge(&request).await {
                Ok(charge) => Some(Ok(charge)),
                Err(ChargeError::Declined(decline)) => Some(Err(decline)),
                // The method on file is no longer usable: no charge was made, the invoice
                // stays open for the customer to pay another way.
                Err(ChargeError::Invalid(reason)) => {
                    tracing::warn!(subscription = %subscription.id, %reason, "renewal charge refused");
                    None
                }
                Err(ChargeError::Unavailable(err)) => {
                    return Err(ApiError::Internal(
                        err.context("payment provider unavailable"),
                    ));
                }
            };
            let mut invoice = issue(
                &mut tx,
                Uuid::now_v7(),
                &subscription,
                &plan,
                (start, period_end),
                self.settings.invoice_due_days,
                &mut events,
            )
            .await?;
            subscription.current_period_start = start;
            subscription.current_period_end = period_end;
            let mut paid = false;
            if let Some(outcome) = outcome {
                let payment = self.payment(&invoice, &outcome, now());
                settle(&mut tx, &mut invoice, &payment, &mut events).await?;
                paid = payment.status == PaymentStatus::Succeeded;
            }
            if paid {
                events.subscription(types::SUBSCRIPTION_RENEWED, &subscription, &plan);
            } else {
                subscription.status = subscription.status.to(SubscriptionStatus::PastDue)?;
                events.subscription(types::SUBSCRIPTION_PAST_DUE, &subscription, &plan);
            }
            store::subscriptions::update(&mut tx, &subscription).await?;
            Renewal::Renewed
        };
        events.enqueue(&self.outbox, &mut tx).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(Some(renewal))
    }

    async fn expire_incomplete(&self) -> Result<usize, ApiError> {
        let mut tx = self.store.pool().begin().await?;
        let stale = store::subscriptions::lock_stale_incomplete(
            &mut tx,
            self.settings.incomplete_expiry_hours,
            i64::from(self.settings.renewal_batch_size),
        )
        .await?;
        let count = stale.len();
        let mut events = Events::by(None);
        for mut subscription in stale {
            let plan = plan_of(&mut tx, &subscription).await?;
            end(
                &mut tx,
                &mut subscription,
                &plan,
                SubscriptionStatus::IncompleteExpired,
                &mut events,
            )
            .await?;
        }
        events.enqueue(&self.outbox, &mut tx).await?;
        tx.commit().await?;
        if count > 0 {
            self.outbox.wake();
        }
        Ok(count)
    }
}
