//! Live subscriptions, streamed from this instance's live feed of the audit topic: records
//! reach subscribers once they are in the log, whichever instance appended them.

use std::sync::Arc;

use async_graphql::futures_util::Stream;
use async_graphql::{Context, Subscription as GraphqlSubscription};
use tessera_kit::caller;
use tessera_kit::events::{Envelope, LiveFeed};

use super::types::{AuditEventFilter, AuditEventNode};
use crate::domain::AUDIT_READ;
use crate::events;
use crate::store::Store;

pub struct Subscription;

#[GraphqlSubscription]
impl Subscription {
    /// Each event as the log records it, narrowed by `filter`. Requires `audit:read`.
    async fn audit_event_recorded(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<AuditEventNode>>> {
        caller::require(ctx)?.require_scope(AUDIT_READ)?;
        let filter = filter.unwrap_or_default().into_domain()?;
        let store = ctx.data_unchecked::<Store>().clone();
        let feed = ctx.data_unchecked::<LiveFeed>();
        Ok(feed.stream(move |event: Arc<Envelope>| {
            let store = store.clone();
            // Matched on the announcement, so records the filter leaves out are never read.
            let wanted = events::recorded_of(&event)
                .filter(|r| filter.matches(&r.kind, &r.subject, r.actor.as_deref(), r.occurred_at));
            async move {
                let Some(record) = wanted else {
                    return Ok(None);
                };
                Ok(store.event_at(record.seq).await?.map(AuditEventNode))
            }
        }))
    }
}
