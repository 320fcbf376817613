//! Live subscriptions, streamed from this instance's live feed of the billing topic.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, Subscription as GraphqlSubscription};
use tessera_kit::caller;
use tessera_kit::events::{Envelope, LiveFeed};

use super::types::InvoiceNode;
use crate::events;
use crate::flows::Billing;

pub struct Subscription;

#[GraphqlSubscription]
impl Subscription {
    /// Each change to one of the signed-in caller's invoices (issued, paid, voided, given up on,
    /// or a declined charge), with the invoice as it now stands.
    async fn invoice_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<InvoiceNode>>> {
        let customer = caller::require(ctx)?.user_id;
        // Billing events are about the customer named by their subject.
        let subject = customer.to_string();
        let store = ctx.data_unchecked::<Billing>().store.clone();
        let feed = ctx.data_unchecked::<LiveFeed>();
        Ok(feed.stream(move |event: Arc<Envelope>| {
            let store = store.clone();
            let mine = event.subject == subject;
            async move {
                let Some(invoice_id) = events::invoice_changed(&event).filter(|_| mine) else {
                    return Ok(None);
                };
                let invoice = store.invoices_by_ids(&[invoice_id]).await?;
                Ok(invoice
                    .into_iter()
                    .find(|i| i.user_id == customer)
                    .map(InvoiceNode))
            }
        }))
    }
}
