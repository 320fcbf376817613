//! Billing's model and the rules its changes follow; no SQL and no I/O here.
//!
//! - [`money`]: amounts in integer minor units and ISO 4217 currency codes.
//! - [`plan`]: plans and how a billing period follows the previous one.
//! - [`subscription`]: customer subscriptions and their allowed status transitions.
//! - [`invoice`]: invoices, line items and payments, and their status rules.
//! - [`idempotency`]: idempotency keys and request fingerprints.

pub mod idempotency;
pub mod invoice;
pub mod money;
pub mod plan;
pub mod subscription;

pub use invoice::{Invoice, InvoiceLine, InvoiceStatus, NewLine, Payment, PaymentStatus};
pub use money::Currency;
pub use plan::{Interval, Plan};
pub use subscription::{Subscription, SubscriptionStatus};

/// A status change the transition table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {entity} cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub entity: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

impl From<IllegalTransition> for tessera_kit::ApiError {
    fn from(err: IllegalTransition) -> Self {
        Self::client(tessera_kit::ErrorCode::Conflict, err.to_string())
    }
}
