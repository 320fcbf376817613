//! Queries and the entity resolver.

use async_graphql::connection::OpaqueCursor;
use async_graphql::{Context, ID, Object};
use tessera_kit::page::Window;
use tessera_kit::{ApiError, caller};

use super::types::{self, AuditChainReport, AuditEventFilter, EventConnection};
use super::user::{User, user_id};
use crate::Settings;
use crate::domain::AUDIT_READ;
use crate::store::Store;

pub struct Query;

#[Object]
impl Query {
    /// The log, newest first, narrowed by `filter`. Requires `audit:read`.
    #[graphql(requires_scopes = "audit:read")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<EventConnection> {
        caller::require(ctx)?.require_scope(AUDIT_READ)?;
        let filter = filter.unwrap_or_default().into_domain()?;
        let window = Window::<OpaqueCursor<i64>>::new(first, after)?;
        let events = ctx
            .data_unchecked::<Store>()
            .events(&filter, window.after.as_ref().map(|c| c.0), window.limit())
            .await
            .map_err(ApiError::from)?;
        Ok(types::page(&window, events))
    }

    /// Walks the whole log in order and checks every hash link and the chain head. Requires
    /// `audit:read`.
    #[graphql(requires_scopes = "audit:read")]
    async fn verify_audit_chain(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<AuditChainReport> {
        caller::require(ctx)?.require_scope(AUDIT_READ)?;
        let batch = ctx.data_unchecked::<Settings>().verify_batch_size;
        let report = ctx
            .data_unchecked::<Store>()
            .verify_chain(batch)
            .await
            .map_err(ApiError::from)?;
        Ok(report.into())
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        Ok(User { id: user_id(&id)? })
    }
}
