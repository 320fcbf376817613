//! Paying an open invoice, under the request's idempotency key. A successful payment makes an
//! incomplete subscription active (it starts) and a past-due one active again (it recovers),
//! and its payment method becomes the one renewals charge.

use serde::{Deserialize, Serialize};
use tessera_kit::{ApiError, ErrorCode};
use uuid::Uuid;

use super::idempotency::{Begun, Keyed};
use super::{Billing, now, plan_of, settle};
use crate::domain::{
    Invoice, InvoiceStatus, Payment, PaymentStatus, Subscription, SubscriptionStatus,
};
use crate::events::{Events, types};
use crate::provider::ChargeRequest;
use crate::store;

/// What paying produced; stored and replayed under the idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Paid {
    pub invoice: Invoice,
    pub payment: Payment,
    pub subscription: Option<Subscription>,
}

impl Billing {
    /// Pays `invoice_id`, which must be `user_id`'s and open.
    pub async fn pay(
        &self,
        user_id: Uuid,
        invoice_id: Uuid,
        payment_method: &str,
        idempotency_key: &str,
    ) -> Result<Paid, ApiError> {
        let request = Keyed::new(
            user_id,
            idempotency_key,
            "payInvoice",
            &[&invoice_id.to_string(), payment_method],
        )?;
        let mut tx = match self.begin_once(&request).await? {
            Begun::Replay(done) => return Ok(done),
            Begun::Fresh(tx) => tx,
        };
        let not_found = || ApiError::not_found("no such invoice");
        // The subscription is locked before the invoice, as every flow does.
        let owner = store::invoices::find(&mut tx, invoice_id)
            .await?
            .filter(|i| i.user_id == user_id)
            .ok_or_else(not_found)?;
        let mut subscription = match owner.subscription_id {
            Some(id) => store::subscriptions::lock(&mut tx, id).await?,
            None => None,
        };
        let mut invoice = store::invoices::lock(&mut tx, invoice_id)
            .await?
            .ok_or_else(not_found)?;
        if invoice.status != InvoiceStatus::Open {
            return Err(ApiError::client(
                ErrorCode::Conflict,
                format!(
                    "invoice {} is {}, not open",
                    invoice.display_number(),
                    invoice.status.as_db()
                ),
            ));
        }
        let payment_method = self.payment_method(payment_method).await?;
        let outcome = self
            .charge(&ChargeRequest {
                idempotency_key: request.provider_key(),
                amount: invoice.total,
                currency: invoice.currency,
                payment_method: payment_method.clone(),
                description: format!("Invoice {}", invoice.display_number()),
                customer: user_id,
            })
            .await?;
        let mut events = Events::by(Some(user_id));
        let payment = self.payment(&invoice, &outcome, now());
        settle(&mut tx, &mut invoice, &payment, &mut events).await?;
        if let Some(subscription) = subscription.as_mut()
            && payment.status == PaymentStatus::Succeeded
        {
            let event = match subscription.status {
                SubscriptionStatus::Incomplete => Some(types::SUBSCRIPTION_STARTED),
                SubscriptionStatus::PastDue => Some(types::SUBSCRIPTION_RECOVERED),
                _ => None,
            };
            subscription.payment_method = payment_method;
            if let Some(kind) = event {
                subscription.status = subscription.status.to(SubscriptionStatus::Active)?;
                let plan = plan_of(&mut tx, subscription).await?;
                events.subscription(kind, subscription, &plan);
            }
            store::subscriptions::update(&mut tx, subscription).await?;
        }
        let done = Paid {
            invoice,
            payment,
            subscription,
        };
        self.remember(&mut tx, &request, &done).await?;
        events.enqueue(&self.outbox, &mut tx).await?;
        tx.commit().await?;
        self.outbox.wake();
        Ok(done)
    }
}
