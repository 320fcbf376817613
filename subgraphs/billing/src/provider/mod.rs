//! Payment providers: the one seam between billing and the outside world that moves money.
//!
//! - [`PaymentProvider`]: charge a payment method; a decline is an answer, not a failure.
//! - [`test_mode`]: the built-in provider with deterministic test cards.
//!
//! Every charge carries an idempotency key the provider deduplicates by: billing derives it from
//! the client's key (or, for renewals, from the subscription and period), so a charge retried
//! after billing lost track of it (a crash between the provider's answer and billing's commit)
//! returns the first charge instead of making a second.

pub mod test_mode;

use std::sync::Arc;
use tessera_kit::db::Db;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::Currency;

/// A request to take `amount` from `payment_method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeRequest {
    /// The provider answers a repeated key with the first charge's outcome.
    pub idempotency_key: String,
    /// In minor units of `currency`; positive.
    pub amount: i64,
    pub currency: Currency,
    /// The provider's reference for the payment method, from [`PaymentProvider::payment_method`].
    pub payment_method: String,
    /// Shown on the customer's statement.
    pub description: String,
    pub customer: Uuid,
}

/// A successful charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The provider's id for the charge.
    pub reference: String,
}

/// A charge the card issuer or the provider refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// The provider's id for the refused charge.
    pub reference: String,
    /// Stable, e.g. `card_declined`, `insufficient_funds`.
    pub code: String,
    /// Readable, safe to show the customer.
    pub message: String,
}

/// Why no charge was made.
#[derive(Debug, thiserror::Error)]
pub enum ChargeError {
    /// The payment method was refused: an outcome to record, like a success.
    #[error("declined: {}", .0.code)]
    Declined(Decline),
    /// The request itself is wrong (an unknown payment method, a reused key with other
    /// parameters); the message is safe to show.
    #[error("{0}")]
    Invalid(String),
    /// The provider could not be reached or failed; whether a charge happened is unknown, and
    /// retrying with the same idempotency key settles it.
    #[error(transparent)]
    Unavailable(#[from] anyhow::Error),
}

/// Moves money.
#[async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Recorded on each payment, e.g. `test`.
    fn name(&self) -> &'static str;

    /// The reusable reference for what a client gave (a reference, or a card number where the
    /// provider accepts one), so billing stores and charges references, never card numbers.
    async fn payment_method(&self, given: &str) -> Result<String, ChargeError>;

    /// Charges `request.payment_method`. A repeated `idempotency_key` returns the first outcome.
    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, ChargeError>;
}

/// Which provider charges customers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// The built-in test mode: deterministic test cards, no money moves (see [`test_mode`]).
    #[default]
    Test,
}

/// The provider `config` names. The test provider keeps its ledger through its own `pool`, as
/// an outside provider would, apart from billing's transactions.
pub fn from_config(config: &ProviderConfig, pool: Db) -> Arc<dyn PaymentProvider> {
    match config {
        ProviderConfig::Test => Arc::new(test_mode::TestProvider::new(pool)),
    }
}
