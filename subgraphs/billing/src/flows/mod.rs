//! The money-moving flows: each one a transaction that changes state, records the provider's
//! answer and enqueues its events, committed together.
//!
//! - [`idempotency`]: the guard that runs a request once per idempotency key.
//! - [`subscribe`]: a new subscription, its first invoice and its first charge.
//! - [`pay`]: paying an open invoice.
//! - [`cancel`]: ending a subscription now or at the end of its period.
//! - [`renewals`]: the scheduled job that issues and charges the next period's invoice.
//!
//! Locks are taken in one order everywhere (idempotency key, then subscription, then
//! invoices, then the invoice counter), so flows that meet on the same rows wait for each
//! other instead of deadlocking.

pub mod cancel;
pub mod idempotency;
pub mod pay;
pub mod renewals;
pub mod subscribe;

use std::sync::Arc;
use tessera_kit::db::Tx;

use chrono::{DateTime, SubsecRound as _, Utc};
use tessera_kit::events::Outbox;
use tessera_kit::{ApiError, ErrorCode};
use uuid::Uuid;

use crate::Settings;
use crate::domain::{
    Invoice, InvoiceStatus, Payment, PaymentStatus, Plan, Subscription, SubscriptionStatus,
};
use crate::events::{Events, types};
use crate::provider::{Charge, ChargeError, ChargeRequest, Decline, PaymentProvider};
use crate::store::{self, Store};

/// What the flows need.
#[derive(Clone)]
pub struct Billing {
    pub store: Store,
    pub provider: Arc<dyn PaymentProvider>,
    pub outbox: Outbox,
    pub settings: Arc<Settings>,
}

/// The time to stamp on rows: microseconds, as PostgreSQL stores them, so a value read back
/// equals the one written.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Billing {
    /// Charges through the provider. A decline is an outcome (`Ok(Err(decline))`); an invalid
    /// request is the client's error; an unreachable provider is SERVICE_UNAVAILABLE, and the
    /// transaction rolls back so a retry with the same key settles what happened.
    async fn charge(&self, request: &ChargeRequest) -> Result<Result<Charge, Decline>, ApiError> {
        match self.provider.charge(request).await {
            Ok(charge) => Ok(Ok(charge)),
            Err(ChargeError::Declined(decline)) => Ok(Err(decline)),
            Err(ChargeError::Invalid(message)) => Err(ApiError::bad_input(message)),
            Err(ChargeError::Unavailable(err)) => {
                tracing::warn!(
                    provider = self.provider.name(),
                    error = format!("{err:#}"),
                    "payment provider unavailable"
                );
                Err(ApiError::client(
                    ErrorCode::ServiceUnavailable,
                    "the payment provider is unavailable; retry with the same idempotency key",
                ))
            }
        }
    }

    /// Resolves what a client gave as a payment method into the provider's reference.
    async fn payment_method(&self, given: &str) -> Result<String, ApiError> {
        let given = given.trim();
        if given.is_empty() || given.len() > 255 {
            return Err(ApiError::bad_input(
                "paymentMethod must be 1 to 255 characters",
            ));
        }
        match self.provider.payment_method(given).await {
            Ok(reference) => Ok(reference),
            Err(ChargeError::Invalid(message)) => Err(ApiError::bad_input(message)),
            Err(ChargeError::Declined(decline)) => Err(ApiError::bad_input(decline.message)),
            Err(ChargeError::Unavailable(err)) => {
                tracing::warn!(
                    provider = self.provider.name(),
                    error = format!("{err:#}"),
                    "payment provider unavailable"
                );
                Err(ApiError::client(
                    ErrorCode::ServiceUnavailable,
                    "the payment provider is unavailable; retry shortly",
                ))
            }
        }
    }

    /// The payment that records `outcome` against `invoice`.
    fn payment(
        &self,
        invoice: &Invoice,
        outcome: &Result<Charge, Decline>,
        at: DateTime<Utc>,
    ) -> Payment {
        let (status, reference, code, message) = match outcome {
            Ok(charge) => (
                PaymentStatus::Succeeded,
                charge.reference.clone(),
                None,
                None,
            ),
            Err(d) => (
                PaymentStatus::Failed,
                d.reference.clone(),
                Some(d.code.clone()),
                Some(d.message.clone()),
            ),
        };
        Payment {
            id: Uuid::now_v7(),
            invoice_id: invoice.id,
            amount: invoice.total,
            currency: invoice.currency,
            status,
            provider: self.provider.name().to_owned(),
            provider_reference: reference,
            failure_code: code,
            failure_message: message,
            created_at: at,
        }
    }
}

/// A new, open invoice for one period of `plan` on `subscription`, numbered here: call this
/// after the charge, so the counter's lock is held only until commit.
async fn issue(
    tx: &mut Tx,
    id: Uuid,
    subscription: &Subscription,
    plan: &Plan,
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    due_days: i64,
    events: &mut Events,
) -> Result<Invoice, ApiError> {
    let lines = [plan.line(start, end)];
    let total = crate::domain::invoice::total(&lines)
        .map_err(|_| ApiError::bad_input("the invoice total is out of range"))?;
    let issued_at = now();
    let invoice = Invoice {
        id,
        number: store::invoices::next_number(tx).await?,
        user_id: subscription.user_id,
        subscription_id: Some(subscription.id),
        status: InvoiceStatus::Open,
        currency: plan.currency,
        total,
        period_start: start,
        period_end: end,
        issued_at,
        due_at: issued_at + chrono::Duration::days(due_days),
        paid_at: None,
    };
    store::invoices::insert(tx, &invoice, &lines).await?;
    events.invoice(types::INVOICE_ISSUED, &invoice);
    Ok(invoice)
}

/// Records `payment` against `invoice`; a successful one marks the invoice paid.
async fn settle(
    tx: &mut Tx,
    invoice: &mut Invoice,
    payment: &Payment,
    events: &mut Events,
) -> Result<(), ApiError> {
    store::invoices::insert_payment(tx, payment).await?;
    events.payment(payment, invoice.user_id);
    if payment.status == PaymentStatus::Succeeded {
        invoice.status = invoice.status.to(InvoiceStatus::Paid)?;
        invoice.paid_at = Some(payment.created_at);
        store::invoices::set_status(tx, invoice).await?;
        events.invoice(types::INVOICE_PAID, invoice);
    }
    Ok(())
}

/// Ends `subscription` now. Its open invoices are given up on: void when the subscription never
/// started (nothing was owed), uncollectible otherwise.
async fn end(
    tx: &mut Tx,
    subscription: &mut Subscription,
    plan: &Plan,
    next: SubscriptionStatus,
    events: &mut Events,
) -> Result<(), ApiError> {
    let was = subscription.status;
    subscription.status = was.to(next)?;
    let at = now();
    if next == SubscriptionStatus::Canceled {
        subscription.canceled_at = Some(at);
    }
    let (invoice_status, kind) = if was == SubscriptionStatus::Incomplete {
        (InvoiceStatus::Void, types::INVOICE_VOIDED)
    } else {
        (
            InvoiceStatus::Uncollectible,
            types::INVOICE_MARKED_UNCOLLECTIBLE,
        )
    };
    for mut invoice in store::invoices::lock_open_of_subscription(tx, subscription.id).await? {
        invoice.status = invoice.status.to(invoice_status)?;
        store::invoices::set_status(tx, &invoice).await?;
        events.invoice(kind, &invoice);
    }
    store::subscriptions::update(tx, subscription).await?;
    let kind = match next {
        SubscriptionStatus::IncompleteExpired => types::SUBSCRIPTION_EXPIRED,
        _ => types::SUBSCRIPTION_CANCELED,
    };
    events.subscription(kind, subscription, plan);
    Ok(())
}

/// The plan of a subscription being changed; it exists (foreign key).
async fn plan_of(tx: &mut Tx, subscription: &Subscription) -> Result<Plan, ApiError> {
    store::plans::plan(tx, subscription.plan_id)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!(
                "subscription {} has no plan",
                subscription.id
            ))
        })
}
