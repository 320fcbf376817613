//! Billing's fields on the `User` entity, which identity owns. Visible to the user themselves
//! and to holders of `billing:manage`; anyone else gets FORBIDDEN.

use async_graphql::connection::{Connection, CursorType as _, Edge, EmptyFields, OpaqueCursor};
use async_graphql::{Context, ID, Object};
use tessera_kit::ApiError;
use uuid::Uuid;

use super::authorize;
use super::loaders::{self, InvoicePageLoader, LiveSubscriptionLoader};
use super::types::{InvoiceNode, SubscriptionNode};
use crate::store::invoices::PageKey;

/// Largest page `invoices` returns.
const MAX_PAGE: i32 = 100;

/// A user, by id; identity resolves the rest of the entity.
pub struct UserNode(pub Uuid);

pub type InvoiceConnection = Connection<OpaqueCursor<i64>, InvoiceNode, EmptyFields, EmptyFields>;

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
        let first = first.unwrap_or(20);
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(
                ApiError::bad_input(format!("first must be between 0 and {MAX_PAGE}")).into(),
            );
        }
        let before = match after {
            Some(cursor) => Some(
                OpaqueCursor::<i64>::decode_cursor(&cursor)
                    .map_err(|_| ApiError::bad_input("after is not a cursor from this list"))?
                    .0,
            ),
            None => None,
        };
        let key = PageKey {
            user_id: self.0,
            limit: i64::from(first) + 1,
            before,
        };
        let mut page = loaders::load::<InvoicePageLoader, _>(ctx, key)
            .await?
            .unwrap_or_default();
        let wanted = usize::try_from(first).unwrap_or_default();
        let has_next = page.len() > wanted;
        page.truncate(wanted);
        let mut connection = Connection::new(before.is_some(), has_next);
        connection.edges.extend(
            page.into_iter()
                .map(|i| Edge::new(OpaqueCursor(i.number), InvoiceNode(i))),
        );
        Ok(connection)
    }
}
