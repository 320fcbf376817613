//! The billing subgraph schema.
//!
//! - [`query`]: `plans`, `invoice(id)` and the `User` entity resolver.
//! - [`mutation`]: `subscribeToPlan`, `payInvoice`, `cancelSubscription`.
//! - [`subscription`]: `invoiceUpdated`, from the instance's live feed.
//! - [`user`]: billing's fields on the `User` entity (`subscription`, `invoices`).
//! - [`types`]: plans, subscriptions, invoices, lines, payments and the mutation payloads.
//! - [`loaders`]: the dataloaders every entity lookup and per-parent list goes through.
//! - [`money`]: the `MinorUnits` scalar.

mod loaders;
mod money;
mod mutation;
mod query;
mod subscription;
mod types;
mod user;

use async_graphql::Schema;
use tessera_kit::events::LiveFeed;

pub use mutation::Mutation;
pub use query::Query;
pub use subscription::Subscription;

use crate::flows::Billing;

pub type BillingSchema = Schema<Query, Mutation, Subscription>;

/// The scope that opens every customer's billing records.
pub const MANAGE_SCOPE: &str = "billing:manage";

/// The schema over `billing`'s flows; `live` is the instance's feed of the billing topic.
pub fn schema(billing: Billing, live: LiveFeed) -> BillingSchema {
    let builder =
        tessera_kit::server::schema::defaults(Schema::build(Query, Mutation, Subscription));
    loaders::register(builder, &billing.store)
        .data(billing)
        .data(live)
        .finish()
}

/// The subgraph SDL, as `_service { sdl }` returns it.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription)
        .enable_federation()
        .enable_subscription_in_federation()
        .finish()
        .sdl_with_options(
            async_graphql::SDLExportOptions::new()
                .federation()
                .compose_directive(),
        )
}

/// The caller, if they are `owner` or hold `billing:manage`.
fn authorize(
    ctx: &async_graphql::Context<'_>,
    owner: uuid::Uuid,
) -> Result<tessera_kit::Caller, tessera_kit::ApiError> {
    let who = tessera_kit::caller::require(ctx)?;
    if who.user_id == owner || who.has_scope(MANAGE_SCOPE) {
        Ok(who)
    } else {
        Err(tessera_kit::ApiError::forbidden(format!(
            "only the customer and holders of {MANAGE_SCOPE} see billing records"
        )))
    }
}

/// Parses an `ID` argument as a UUID.
fn uuid_arg(id: &async_graphql::ID, what: &str) -> Result<uuid::Uuid, tessera_kit::ApiError> {
    uuid::Uuid::parse_str(id.as_str())
        .map_err(|_| tessera_kit::ApiError::bad_input(format!("not a {what} id")))
}
