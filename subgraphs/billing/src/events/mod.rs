//! What billing publishes, on its own topic. Every event's subject is the customer's user id,
//! so one customer's events stay in order; the actor is the caller, or none when the renewal
//! job acted. Billing consumes no other service's events; its live feed reads its own topic
//! for `invoiceUpdated`.
//!
//! | type                          | when                                              |
//! |-------------------------------|---------------------------------------------------|
//! | `subscription.started`        | a subscription's first invoice is paid            |
//! | `subscription.renewed`        | a new period began and its invoice was paid       |
//! | `subscription.past_due`       | a renewal's charge was declined                   |
//! | `subscription.recovered`      | a past-due subscription's invoice was paid        |
//! | `subscription.cancel_scheduled` | a subscription was set to end with its period   |
//! | `subscription.canceled`       | a subscription ended                              |
//! | `subscription.expired`        | a subscription's first invoice went unpaid too long |
//! | `invoice.issued`              | an invoice was issued                             |
//! | `invoice.paid`                | an invoice was paid                               |
//! | `invoice.voided`              | an invoice was voided                             |
//! | `invoice.marked_uncollectible`| an unpaid invoice was given up on                 |
//! | `payment.succeeded`           | a charge succeeded                                |
//! | `payment.failed`              | a charge was declined                             |

use serde_json::{Value, json};
use tessera_kit::db::Tx;
use tessera_kit::events::{Envelope, Outbox};
use uuid::Uuid;

use crate::domain::{Invoice, Payment, Plan, Subscription};

pub mod types {
    pub const SUBSCRIPTION_STARTED: &str = "subscription.started";
    pub const SUBSCRIPTION_RENEWED: &str = "subscription.renewed";
    pub const SUBSCRIPTION_PAST_DUE: &str = "subscription.past_due";
    pub const SUBSCRIPTION_RECOVERED: &str = "subscription.recovered";
    pub const SUBSCRIPTION_CANCEL_SCHEDULED: &str = "subscription.cancel_scheduled";
    pub const SUBSCRIPTION_CANCELED: &str = "subscription.canceled";
    pub const SUBSCRIPTION_EXPIRED: &str = "subscription.expired";
    pub const INVOICE_ISSUED: &str = "invoice.issued";
    pub const INVOICE_PAID: &str = "invoice.paid";
    pub const INVOICE_VOIDED: &str = "invoice.voided";
    pub const INVOICE_MARKED_UNCOLLECTIBLE: &str = "invoice.marked_uncollectible";
    pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
    pub const PAYMENT_FAILED: &str = "payment.failed";
}

/// The invoice an event changed: every `invoice.*` event, and `payment.failed` (a declined
/// charge adds a payment to an invoice that stays open). `payment.succeeded` is left out: it is
/// always published with `invoice.paid` for the same invoice, which stands for both.
pub fn invoice_changed(event: &Envelope) -> Option<Uuid> {
    match event.kind.as_str() {
        types::INVOICE_ISSUED
        | types::INVOICE_PAID
        | types::INVOICE_VOIDED
        | types::INVOICE_MARKED_UNCOLLECTIBLE
        | types::PAYMENT_FAILED => event.data.get("invoiceId")?.as_str()?.parse().ok(),
        _ => None,
    }
}

/// The events of one transaction, enqueued together before it commits.
pub struct Events {
    actor: Option<Uuid>,
    pending: Vec<Envelope>,
}

impl Events {
    /// Events caused by `actor` (none: the renewal job).
    pub fn by(actor: Option<Uuid>) -> Self {
        Self {
            actor,
            pending: Vec::new(),
        }
    }

    fn push(&mut self, kind: &str, user_id: Uuid, data: Value) {
        self.pending.push(Envelope::new(
            crate::NAME,
            kind,
            user_id.to_string(),
            self.actor.map(|a| a.to_string()),
            data,
        ));
    }

    /// A subscription event of `kind`.
    pub fn subscription(&mut self, kind: &str, s: &Subscription, plan: &Plan) {
        self.push(
            kind,
            s.user_id,
            json!({
                "subscriptionId": s.id,
                "userId": s.user_id,
                "planId": plan.id,
                "planCode": plan.code,
                "status": s.status.as_db(),
                "amount": plan.price,
                "currency": plan.currency,
                "interval": plan.interval.as_db(),
                "currentPeriodStart": s.current_period_start,
                "currentPeriodEnd": s.current_period_end,
                "cancelAtPeriodEnd": s.cancel_at_period_end,
                "canceledAt": s.canceled_at,
            }),
        );
    }

    /// An invoice event of `kind`.
    pub fn invoice(&mut self, kind: &str, i: &Invoice) {
        self.push(
            kind,
            i.user_id,
            json!({
                "invoiceId": i.id,
                "number": i.display_number(),
                "userId": i.user_id,
                "subscriptionId": i.subscription_id,
                "status": i.status.as_db(),
                "total": i.total,
                "currency": i.currency,
                "periodStart": i.period_start,
                "periodEnd": i.period_end,
                "issuedAt": i.issued_at,
                "dueAt": i.due_at,
                "paidAt": i.paid_at,
            }),
        );
    }

    /// `payment.succeeded` or `payment.failed`.
    pub fn payment(&mut self, p: &Payment, user_id: Uuid) {
        let kind = match p.status {
            crate::domain::PaymentStatus::Succeeded => types::PAYMENT_SUCCEEDED,
            crate::domain::PaymentStatus::Failed => types::PAYMENT_FAILED,
        };
        self.push(
            kind,
            user_id,
            json!({
                "paymentId": p.id,
                "invoiceId": p.invoice_id,
                "userId": user_id,
                "amount": p.amount,
                "currency": p.currency,
                "provider": p.provider,
                "providerReference": p.provider_reference,
                "failureCode": p.failure_code,
            }),
        );
    }

    /// Writes the events into the outbox inside `tx`.
    pub async fn enqueue(self, outbox: &Outbox, tx: &mut Tx) -> sqlx::Result<()> {
        for event in &self.pending {
            outbox.enqueue(tx, event).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, data: Value) -> Envelope {
        Envelope::new(crate::NAME, kind, Uuid::now_v7().to_string(), None, data)
    }

    #[test]
    fn invoice_events_and_declined_charges_name_the_invoice_they_changed() {
        let invoice = Uuid::now_v7();
        let data = json!({ "invoiceId": invoice });
        for kind in [
            types::INVOICE_ISSUED,
            types::INVOICE_PAID,
            types::INVOICE_VOIDED,
            types::INVOICE_MARKED_UNCOLLECTIBLE,
            types::PAYMENT_FAILED,
        ] {
            assert_eq!(
                invoice_changed(&event(kind, data.clone())),
                Some(invoice),
                "{kind}"
            );
        }
        for kind in [types::PAYMENT_SUCCEEDED, types::SUBSCRIPTION_STARTED] {
            assert_eq!(invoice_changed(&event(kind, data.clone())), None, "{kind}");
        }
    }
}
