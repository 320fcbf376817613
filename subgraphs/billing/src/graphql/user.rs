//! Billing's fields on the `User` entity, which identity owns. Visible to the user themselves
//! and to holders of `billing:manage`; anyone else gets FORBIDDEN.

use async_graphql::connection::OpaqueCursor;
use async_graphql::{Context, ID, Object};
use tessera_kit::page::{Conn, Window};
use uuid::Uuid;

use super::authorize;
use super::loaders::{self, InvoicePageLoader, LiveSubscriptionLoader};
use super::types::{InvoiceNode, SubscriptionNode};
use crate::store::invoices::PageKey;

/// A user, by id; identity resolves the rest of the entity.
pub struct UserNode(pub Uuid);

pub type InvoiceConnection = Conn<OpaqueCursor<i64>, InvoiceNode>;

#[Object(name = "User")]
impl UserNode {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }

    /// The live subscription (not canceled or expired), if any.
    async fn subscription(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SubscriptionNode>> {
        authorize(ctx, self.0)?;
        Ok(loaders::load::<LiveSubscriptionLoader, _>(ctx, self.0)
            .await?
            .map(SubscriptionNode))
    }

    /// Invoices, newest first.
    async fn invoices(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<InvoiceConnection> {
        authorize(ctx, self.0)?;
        let window = Window::<OpaqueCursor<i64>>::new(first, after)?;
        let key = PageKey {
            user_id: self.0,
            limit: window.limit(),
            before: window.after.as_ref().map(|c| c.0),
        };
        let page = loaders::load::<InvoicePageLoader, _>(ctx, key)
            .await?
            .unwrap_or_default();
        Ok(window.connection(page, |i| OpaqueCursor(i.number), InvoiceNode))
    }
}
