//! The test-mode provider: no money moves, and the outcome depends only on the payment method,
//! so tests and local development can exercise every path.
//!
//! | payment method (reference or card number)                 | outcome                       |
//! |-----------------------------------------------------------|-------------------------------|
//! | `pm_card_visa`, `4242424242424242`                        | succeeds                      |
//! | `pm_card_mastercard`, `5555555555554444`                  | succeeds                      |
//! | `pm_card_chargeDeclined`, `4000000000000002`              | declined: `card_declined`     |
//! | `pm_card_chargeDeclinedInsufficientFunds`, `4000000000009995` | declined: `insufficient_funds` |
//! | `pm_card_chargeDeclinedExpiredCard`, `4000000000000069`   | declined: `expired_card`      |
//! | `pm_card_chargeDeclinedIncorrectCvc`, `4000000000000127`  | declined: `incorrect_cvc`     |
//! | `pm_card_chargeDeclinedProcessingError`, `4000000000000119` | declined: `processing_error` |
//!
//! Anything else is refused as an unknown payment method. A card number resolves to its
//! `pm_card_...` reference, so billing never stores a card number.
//!
//! Every charge is recorded in `test_provider_charges`, through the provider's own connections
//! and outside billing's transactions, as an outside provider would keep its ledger: tests
//! count real charges there, and a restart keeps the record. A repeated idempotency key returns
//! the recorded outcome without charging again.

use async_trait::async_trait;
use tessera_kit::db::Db;
use uuid::Uuid;

use super::{Charge, ChargeError, ChargeRequest, Decline, PaymentProvider};

/// A test card: its reference, its number, and the decline it causes (none: it succeeds).
struct Card {
    reference: &'static str,
    number: &'static str,
    decline: Option<(&'static str, &'static str)>,
}

const CARDS: [Card; 7] = [
    Card {
        reference: "pm_card_visa",
        number: "4242424242424242",
        decline: None,
    },
    Card {
        reference: "pm_card_mastercard",
        number: "5555555555554444",
        decline: None,
    },
    Card {
        reference: "pm_card_chargeDeclined",
        number: "4000000000000002",
        decline: Some(("card_declined", "Your card was declined.")),
    },
    Card {
        reference: "pm_card_chargeDeclinedInsufficientFunds",
        number: "4000000000009995",
        decline: Some(("insufficient_funds", "Your card has insufficient funds.")),
    },
    Card {
        reference: "pm_card_chargeDeclinedExpiredCard",
        number: "4000000000000069",
        decline: Some(("expired_card", "Your card has expired.")),
    },
    Card {
        reference: "pm_card_chargeDeclinedIncorrectCvc",
        number: "4000000000000127",
        decline: Some(("incorrect_cvc", "Your card's security code is incorrect.")),
    },
    Card {
        reference: "pm_card_chargeDeclinedProcessingError",
        number: "4000000000000119",
        decline: Some((
            "processing_error",
            "An error occurred while processing your card.",
        )),
    },
];

fn card(payment_method: &str) -> Option<&'static Card> {
    let digits: String = payment_method
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    CARDS
        .iter()
        .find(|c| c.reference == payment_method || c.number == digits)
}

fn unknown() -> ChargeError {
    ChargeError::Invalid(
        "unknown payment method; test mode accepts only the documented test cards".to_owned(),
    )
}

/// The built-in test-mode provider.
pub struct TestProvider {
    pool: Db,
}

impl TestProvider {
    pub fn new(pool: Db) -> Self {
        Self { pool }
    }
}

/// A row of the ledger.
#[derive(sqlx::FromRow)]
struct Recorded {
    id: String,
    amount: i64,
    currency: String,
    payment_method: String,
    outcome: String,
    decline_code: Option<String>,
}

#[async_trait]
impl PaymentProvider for TestProvider {
    fn name(&self) -> &'static str {
        "test"
    }

    async fn payment_method(&self, given: &str) -> Result<String, ChargeError> {
        card(given)
            .map(|c| c.reference.to_owned())
            .ok_or_else(unknown)
    }

    async fn charge(&self, request: &ChargeRequest) -> Result<Charge, ChargeError> {
        if request.amount <= 0 {
            return Err(ChargeError::Invalid(
                "the amount must be positive".to_owned(),
            ));
        }
        let card = card(&request.payment_method).ok_or_else(unknown)?;
        let id = format!("ch_test_{}", Uuid::now_v7().simple());
        let (outcome, code) = match card.decline {
            None => ("succeeded", None),
            Some((code, _)) => ("declined", Some(code)),
        };
        // Insert-or-read: a repeated key answers with what was recorded first.
        sqlx::query(
            "INSERT INTO test_provider_charges \
             (id, idempotency_key, amount, currency, payment_method, description, outcome, decline_code) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&id)
        .bind(&request.idempotency_key)
        .bind(request.amount)
        .bind(request.currency.as_str())
        .bind(card.reference)
        .bind(&request.description)
        .bind(outcome)
        .bind(code)
        .execute(&self.pool)
        .await
        .map_err(|e| ChargeError::Unavailable(anyhow::Error::new(e).context("test provider ledger")))?;
        let recorded: Recorded = sqlx::query_as(
            "SELECT id, amount, currency, payment_method, outcome, decline_code \
             FROM test_provider_charges WHERE idempotency_key = $1",
        )
        .bind(&request.idempotency_key)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            ChargeError::Unavailable(anyhow::Error::new(e).context("test provider ledger"))
        })?;
        if recorded.amount != request.amount
            || recorded.currency != request.currency.as_str()
            || recorded.payment_method != card.reference
        {
            return Err(ChargeError::Invalid(
                "this idempotency key was used for a different charge".to_owned(),
            ));
        }
        match (recorded.outcome.as_str(), recorded.decline_code) {
            ("succeeded", _) => Ok(Charge {
                reference: recorded.id,
            }),
            (_, code) => {
                let code = code.unwrap_or_else(|| "card_declined".to_owned());
                let message = CARDS
                    .iter()
                    .find_map(|c| c.decline.filter(|(c, _)| *c == code).map(|(_, m)| m))
                    .unwrap_or("Your card was declined.");
                Err(ChargeError::Declined(Decline {
                    reference: recorded.id,
                    code,
                    message: message.to_owned(),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_found_by_reference_or_number() {
        assert_eq!(
            card("pm_card_visa").map(|c| c.number),
            Some("4242424242424242")
        );
        assert_eq!(
            card("4242 4242 4242 4242").map(|c| c.reference),
            Some("pm_card_visa")
        );
        assert_eq!(
            card("4000000000009995")
                .and_then(|c| c.decline)
                .map(|d| d.0),
            Some("insufficient_funds")
        );
        assert!(card("4111111111111111").is_none());
    }
}
