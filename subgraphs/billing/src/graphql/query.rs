//! Queries and the `User` entity resolver.

use async_graphql::{Context, ID, Object};
use tessera_kit::{ApiError, caller};

use super::loaders::{self, InvoiceLoader};
use super::types::{InvoiceNode, PlanNode};
use super::user::UserNode;
use super::{MANAGE_SCOPE, uuid_arg};
use crate::flows::Billing;

pub struct Query;

#[Object]
impl Query {
    /// Plans open to new subscriptions, cheapest first.
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PlanNode>> {
        let billing = ctx.data_unchecked::<Billing>();
        let plans = billing.store.plans(false).await.map_err(ApiError::from)?;
        Ok(plans.into_iter().map(PlanNode).collect())
    }

    /// An invoice of the signed-in user (any invoice for holders of `billing:manage`). Another
    /// customer's invoice is NOT_FOUND, so ids reveal nothing.
    async fn invoice(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<InvoiceNode>> {
        let who = caller::require(ctx)?;
        let id = uuid_arg(&id, "invoice")?;
        let invoice = loaders::load::<InvoiceLoader, _>(ctx, id)
            .await?
            .filter(|i| i.user_id == who.user_id || who.has_scope(MANAGE_SCOPE))
            .ok_or_else(|| ApiError::not_found("no such invoice"))?;
        Ok(Some(InvoiceNode(invoice)))
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<UserNode> {
        Ok(UserNode(uuid_arg(&id, "user")?))
    }
}
