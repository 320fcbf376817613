//! Mutations. Those that move money take a required `idempotencyKey`: a repeated key returns
//! the first result without charging again (see `flows::idempotency`).

use async_graphql::{Context, ID, InputObject, Object};
use tessera_kit::caller;

use super::types::{PayInvoicePayload, SubscribePayload, SubscriptionNode};
use super::uuid_arg;
use crate::flows::Billing;

pub struct Mutation;

#[derive(InputObject)]
pub struct SubscribeInput {
    pub plan_id: ID,
    /// A payment method reference, e.g. `pm_card_visa`; in test mode also a test card number
    /// such as `4242424242424242`.
    pub payment_method: String,
    /// Chosen by the client, unique per request it means (e.g. a UUID); at most 255 characters.
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct PayInvoiceInput {
    pub invoice_id: ID,
    /// A payment method reference, e.g. `pm_card_visa`; in test mode also a test card number
    /// such as `4242424242424242`.
    pub payment_method: String,
    /// Chosen by the client, unique per request it means (e.g. a UUID); at most 255 characters.
    pub idempotency_key: String,
}

#[derive(InputObject)]
pub struct CancelSubscriptionInput {
    /// End with the paid period (the default) rather than now. Ending now refunds nothing.
    #[graphql(default = true)]
    pub at_period_end: bool,
    /// Optional: canceling moves no money, but a key makes a retried request return the first
    /// result.
    pub idempotency_key: Option<String>,
}

#[Object]
impl Mutation {
    /// Subscribes the signed-in user to a plan: creates the subscription and its first invoice
    /// and charges it. A declined card is a result (payment `FAILED`, subscription
    /// `INCOMPLETE`), not an error.
    async fn subscribe_to_plan(
        &self,
        ctx: &Context<'_>,
        input: SubscribeInput,
    ) -> async_graphql::Result<SubscribePayload> {
        let who = caller::require(ctx)?;
        let plan_id = uuid_arg(&input.plan_id, "plan")?;
        let done = ctx
            .data_unchecked::<Billing>()
            .subscribe(
                who.user_id,
                plan_id,
                &input.payment_method,
                &input.idempotency_key,
            )
            .await?;
        Ok(SubscribePayload(done))
    }

    /// Pays an open invoice of the signed-in user. A declined card is a result (payment
    /// `FAILED`, invoice still `OPEN`), not an error.
    async fn pay_invoice(
        &self,
        ctx: &Context<'_>,
        input: PayInvoiceInput,
    ) -> async_graphql::Result<PayInvoicePayload> {
        let who = caller::require(ctx)?;
        let invoice_id = uuid_arg(&input.invoice_id, "invoice")?;
        let done = ctx
            .data_unchecked::<Billing>()
            .pay(
                who.user_id,
                invoice_id,
                &input.payment_method,
                &input.idempotency_key,
            )
            .await?;
        Ok(PayInvoicePayload(done))
    }

    /// Cancels the signed-in user's live subscription, by default at the end of the paid
    /// period. An incomplete subscription ends at once.
    async fn cancel_subscription(
        &self,
        ctx: &Context<'_>,
        input: Option<CancelSubscriptionInput>,
    ) -> async_graphql::Result<SubscriptionNode> {
        let who = caller::require(ctx)?;
        let input = input.unwrap_or(CancelSubscriptionInput {
            at_period_end: true,
            idempotency_key: None,
        });
        let subscription = ctx
            .data_unchecked::<Billing>()
            .cancel(
                who.user_id,
                input.at_period_end,
                input.idempotency_key.as_deref(),
            )
            .await?;
        Ok(SubscriptionNode(subscription))
    }
}
