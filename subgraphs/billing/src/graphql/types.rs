//! The billing types as the schema shows them. Who may see an object is decided where it is
//! reached (`User.invoices`, `invoice(id)`, the mutations); its fields add no checks.

use async_graphql::{Context, ID, Object};
use chrono::{DateTime, Utc};
use tessera_kit::ApiError;

use super::loaders::{self, LineLoader, PaymentLoader, PlanLoader, SubscriptionLoader};
use super::money::MinorUnits;
use super::user::UserNode;
use crate::domain::{
    Interval, Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentStatus, Plan, Subscription,
    SubscriptionStatus,
};
use crate::flows::pay::Paid;
use crate::flows::subscribe::Subscribed;

pub struct PlanNode(pub Plan);

/// A plan customers subscribe to.
#[Object(name = "Plan")]
impl PlanNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Stable, e.g. `pro-monthly`.
    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Per interval, in minor units of `currency`.
    async fn price(&self) -> MinorUnits {
        MinorUnits(self.0.price)
    }

    /// ISO 4217 code, e.g. `EUR`.
    async fn currency(&self) -> &str {
        self.0.currency.as_str()
    }

    async fn interval(&self) -> Interval {
        self.0.interval
    }

    /// Open to new subscriptions.
    async fn active(&self) -> bool {
        self.0.active
    }
}

// Not `Subscription`: that name belongs to the root subscription type.
pub struct SubscriptionNode(pub Subscription);

/// A customer's subscription to a plan. At most one per customer is live (not canceled or
/// expired).
#[Object(name = "CustomerSubscription")]
impl SubscriptionNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn user(&self) -> UserNode {
        UserNode(self.0.user_id)
    }

    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<PlanNode> {
        let plan = loaders::load::<PlanLoader, _>(ctx, self.0.plan_id)
            .await?
            .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("subscription without plan")))?;
        Ok(PlanNode(plan))
    }

    async fn status(&self) -> SubscriptionStatus {
        self.0.status
    }

    async fn current_period_start(&self) -> DateTime<Utc> {
        self.0.current_period_start
    }

    /// When the next invoice is issued, or the subscription ends if `cancelAtPeriodEnd`.
    async fn current_period_end(&self) -> DateTime<Utc> {
        self.0.current_period_end
    }

    /// Set to end with the current period instead of renewing.
    async fn cancel_at_period_end(&self) -> bool {
        self.0.cancel_at_period_end
    }

    async fn canceled_at(&self) -> Option<DateTime<Utc>> {
        self.0.canceled_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct InvoiceNode(pub Invoice);

/// What a customer owes for a period. Its total is the sum of its lines.
#[Object(name = "Invoice")]
impl InvoiceNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Sequential, e.g. `INV-000042`.
    async fn number(&self) -> String {
        self.0.display_number()
    }

    async fn user(&self) -> UserNode {
        UserNode(self.0.user_id)
    }

    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SubscriptionNode>> {
        let Some(id) = self.0.subscription_id else {
            return Ok(None);
        };
        Ok(loaders::load::<SubscriptionLoader, _>(ctx, id)
            .await?
            .map(SubscriptionNode))
    }

    async fn status(&self) -> InvoiceStatus {
        self.0.status
    }

    /// ISO 4217 code, e.g. `EUR`.
    async fn currency(&self) -> &str {
        self.0.currency.as_str()
    }

    /// The sum of the lines, in minor units of `currency`.
    async fn total(&self) -> MinorUnits {
        MinorUnits(self.0.total)
    }

    async fn period_start(&self) -> DateTime<Utc> {
        self.0.period_start
    }

    async fn period_end(&self) -> DateTime<Utc> {
        self.0.period_end
    }

    async fn issued_at(&self) -> DateTime<Utc> {
        self.0.issued_at
    }

    async fn due_at(&self) -> DateTime<Utc> {
        self.0.due_at
    }

    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.paid_at
    }

    async fn lines(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<InvoiceLineNode>> {
        let lines = loaders::load::<LineLoader, _>(ctx, self.0.id).await?;
        Ok(lines
            .unwrap_or_default()
            .into_iter()
            .map(InvoiceLineNode)
            .collect())
    }

    /// Attempts to collect it, oldest first.
    async fn payments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PaymentNode>> {
        let payments = loaders::load::<PaymentLoader, _>(ctx, self.0.id).await?;
        Ok(payments
            .unwrap_or_default()
            .into_iter()
            .map(PaymentNode)
            .collect())
    }
}

pub struct InvoiceLineNode(pub InvoiceLine);

/// A line of an invoice.
#[Object(name = "InvoiceLine")]
impl InvoiceLineNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    async fn quantity(&self) -> async_graphql::Result<i32> {
        Ok(i32::try_from(self.0.quantity)
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("quantity beyond Int")))?)
    }

    async fn unit_amount(&self) -> MinorUnits {
        MinorUnits(self.0.unit_amount)
    }

    /// `quantity × unitAmount`.
    async fn amount(&self) -> MinorUnits {
        MinorUnits(self.0.amount)
    }
}

pub struct PaymentNode(pub Payment);

/// An attempt to collect an invoice. A declined card is a `FAILED` payment with a
/// `failureCode`, not an error.
#[Object(name = "Payment")]
impl PaymentNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn amount(&self) -> MinorUnits {
        MinorUnits(self.0.amount)
    }

    async fn currency(&self) -> &str {
        self.0.currency.as_str()
    }

    async fn status(&self) -> PaymentStatus {
        self.0.status
    }

    /// The provider that handled it, e.g. `test`.
    async fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The provider's id for the charge.
    async fn provider_reference(&self) -> &str {
        &self.0.provider_reference
    }

    /// Why it failed, e.g. `card_declined`, `insufficient_funds`.
    async fn failure_code(&self) -> Option<&str> {
        self.0.failure_code.as_deref()
    }

    /// Why it failed, in words the customer can be shown.
    async fn failure_message(&self) -> Option<&str> {
        self.0.failure_message.as_deref()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct SubscribePayload(pub Subscribed);

/// The result of `subscribeToPlan`. When the first charge is declined, the subscription is
/// `INCOMPLETE`, the invoice `OPEN` and the payment `FAILED`.
#[Object]
impl SubscribePayload {
    async fn subscription(&self) -> SubscriptionNode {
        SubscriptionNode(self.0.subscription.clone())
    }

    async fn invoice(&self) -> InvoiceNode {
        InvoiceNode(self.0.invoice.clone())
    }

    async fn payment(&self) -> PaymentNode {
        PaymentNode(self.0.payment.clone())
    }
}

pub struct PayInvoicePayload(pub Paid);

/// The result of `payInvoice`. When the charge is declined, the invoice stays `OPEN` and the
/// payment is `FAILED`.
#[Object]
impl PayInvoicePayload {
    async fn invoice(&self) -> InvoiceNode {
        InvoiceNode(self.0.invoice.clone())
    }

    async fn payment(&self) -> PaymentNode {
        PaymentNode(self.0.payment.clone())
    }

    /// The invoice's subscription, if it has one.
    async fn subscription(&self) -> Option<SubscriptionNode> {
        self.0.subscription.clone().map(SubscriptionNode)
    }
}
