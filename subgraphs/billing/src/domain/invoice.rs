//! Invoices, their line items and the payments that settle them.
//!
//! An invoice is `open` until it is `paid`, `void` (it should never have been owed: the
//! subscription never started) or `uncollectible` (owed, but given up on when its subscription
//! ended unpaid). Only open invoices take payments.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::money::{self, Overflow};
use super::{Currency, IllegalTransition};

/// Where an invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceStatus {
    /// Owed; takes payments.
    Open,
    /// Settled by a successful payment.
    Paid,
    /// Never owed: its subscription never started.
    Void,
    /// Owed but given up on: its subscription ended unpaid.
    Uncollectible,
}

impl InvoiceStatus {
    pub fn from_db(value: &str) -> Option<Self> {
        Some(match value {
            "open" => Self::Open,
            "paid" => Self::Paid,
            "void" => Self::Void,
            "uncollectible" => Self::Uncollectible,
            _ => return None,
        })
    }

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Void => "void",
            Self::Uncollectible => "uncollectible",
        }
    }

    /// `next`, if the transition table allows it: only an open invoice changes.
    pub fn to(self, next: Self) -> Result<Self, IllegalTransition> {
        if self == Self::Open && next != Self::Open {
            Ok(next)
        } else {
            Err(IllegalTransition {
                entity: "invoice",
                from: self.as_db(),
                to: next.as_db(),
            })
        }
    }
}

/// An invoice. `total` is the sum of its lines' amounts, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
    pub id: Uuid,
    /// Sequential across the service, without gaps.
    pub number: i64,
    pub user_id: Uuid,
    pub subscription_id: Option<Uuid>,
    pub status: InvoiceStatus,
    pub currency: Currency,
    pub total: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub issued_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

impl Invoice {
    /// How customers and accountants refer to it.
    pub fn display_number(&self) -> String {
        display_number(self.number)
    }
}

/// `INV-000042`.
pub fn display_number(number: i64) -> String {
    format!("INV-{number:06}")
}

/// A line to put on a new invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLine {
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
}

impl NewLine {
    pub fn amount(&self) -> Result<i64, Overflow> {
        money::line_amount(self.quantity, self.unit_amount)
    }
}

/// The total of `lines`.
pub fn total(lines: &[NewLine]) -> Result<i64, Overflow> {
    money::sum(
        lines
            .iter()
            .map(NewLine::amount)
            .collect::<Result<Vec<_>, _>>()?,
    )
}

/// A line of an issued invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub description: String,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
}

/// How a charge ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// The money was taken.
    Succeeded,
    /// The payment method was declined; see `failureCode`.
    Failed,
}

impl PaymentStatus {
    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }
}

/// One attempt to collect an invoice. A declined card is a failed payment, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub amount: i64,
    pub currency: Currency,
    pub status: PaymentStatus,
    /// Which provider handled it, e.g. `test`.
    pub provider: String,
    /// The provider's id for the charge.
    pub provider_reference: String,
    /// Why it failed, e.g. `card_declined`.
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_open_invoices_change() {
        assert_eq!(
            InvoiceStatus::Open.to(InvoiceStatus::Paid),
            Ok(InvoiceStatus::Paid)
        );
        assert!(InvoiceStatus::Paid.to(InvoiceStatus::Paid).is_err());
        assert!(InvoiceStatus::Void.to(InvoiceStatus::Paid).is_err());
        assert!(InvoiceStatus::Open.to(InvoiceStatus::Open).is_err());
    }

    #[test]
    fn totals_are_the_sum_of_lines() {
        let lines = [
            NewLine {
                description: "a".into(),
                quantity: 2,
                unit_amount: 450,
            },
            NewLine {
                description: "b".into(),
                quantity: 1,
                unit_amount: 2900,
            },
        ];
        assert_eq!(total(&lines), Ok(3800));
        let huge = [NewLine {
            description: "x".into(),
            quantity: 2,
            unit_amount: i64::MAX,
        }];
        assert_eq!(total(&huge), Err(Overflow));
        assert_eq!(display_number(42), "INV-000042");
    }
}
