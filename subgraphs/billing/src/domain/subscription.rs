//! Customer subscriptions and the status transitions they may take.
//!
//! ```text
//! incomplete ──► active ──► past_due ──► active
//!     │            │            │
//!     │            └──► canceled ◄┘
//!     ├──► incomplete_expired
//!     └──► canceled
//! ```
//!
//! - `incomplete`: created, first invoice not paid yet (its first charge was declined).
//! - `active`: paid up for the current period.
//! - `past_due`: a renewal invoice is unpaid; paying it makes the subscription active again,
//!   and a subscription still past due when its period ends is canceled.
//! - `incomplete_expired`: the first invoice was never paid in time (terminal).
//! - `canceled`: ended (terminal).
//!
//! A subscription is *live* until it is canceled or expired; a customer has at most one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::IllegalTransition;

/// Where a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// Created; its first invoice is not paid yet.
    Incomplete,
    /// Its first invoice went unpaid too long (final).
    IncompleteExpired,
    /// Paid up for the current period.
    Active,
    /// A renewal invoice is unpaid.
    PastDue,
    /// Ended (final).
    Canceled,
}

impl SubscriptionStatus {
    pub fn from_db(value: &str) -> Option<Self> {
        Some(match value {
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Canceled => "canceled",
        }
    }

    /// Whether the transition table allows going to `next`.
    pub fn can_become(self, next: Self) -> bool {
        use SubscriptionStatus::{Active, Canceled, Incomplete, IncompleteExpired, PastDue};
        matches!(
            (self, next),
            (Incomplete, Active | IncompleteExpired | Canceled)
                | (Active, PastDue | Canceled)
                | (PastDue, Active | Canceled)
        )
    }

    /// `next`, if the transition table allows it.
    pub fn to(self, next: Self) -> Result<Self, IllegalTransition> {
        if self.can_become(next) {
            Ok(next)
        } else {
            Err(IllegalTransition {
                entity: "subscription",
                from: self.as_db(),
                to: next.as_db(),
            })
        }
    }

    /// Live subscriptions count against the one-per-customer rule.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

/// A customer's subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: Uuid,
    pub user_id: Uuid,
    pub plan_id: Uuid,
    pub status: SubscriptionStatus,
    /// The provider's reusable reference that renewals charge.
    pub payment_method: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What `cancelSubscription` does to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancellation {
    /// Ends it now.
    Now,
    /// Keeps it until the paid period ends; the renewal job cancels it then.
    AtPeriodEnd,
    /// Already set to end at the period's end: nothing changes.
    AlreadyScheduled,
}

/// Decides how a cancellation request applies. A subscription that never started (incomplete)
/// ends at once whatever was asked: there is no paid period to run out.
pub fn cancellation(
    status: SubscriptionStatus,
    scheduled: bool,
    at_period_end: bool,
) -> Result<Cancellation, IllegalTransition> {
    status.to(SubscriptionStatus::Canceled)?;
    Ok(match (status, at_period_end, scheduled) {
        (SubscriptionStatus::Incomplete, _, _) | (_, false, _) => Cancellation::Now,
        (_, true, true) => Cancellation::AlreadyScheduled,
        (_, true, false) => Cancellation::AtPeriodEnd,
    })
}

#[cfg(test)]
mod tests {
    use super::SubscriptionStatus::*;
    use super::*;

    #[test]
    fn follows_the_transition_table() {
        assert!(Incomplete.can_become(Active));
        assert!(Incomplete.can_become(IncompleteExpired));
        assert!(Active.can_become(PastDue));
        assert!(PastDue.can_become(Active));
        assert!(PastDue.can_become(Canceled));
        assert!(!Active.can_become(Incomplete));
        assert!(!Active.can_become(IncompleteExpired));
        assert!(!Canceled.can_become(Active));
        assert!(!IncompleteExpired.can_become(Active));
        let err = Canceled.to(Canceled).expect_err("terminal");
        assert_eq!(
            err.to_string(),
            "a subscription cannot go from canceled to canceled"
        );
    }

    #[test]
    fn incomplete_subscriptions_cancel_at_once() {
        assert_eq!(cancellation(Incomplete, false, true), Ok(Cancellation::Now));
        assert_eq!(
            cancellation(Active, false, true),
            Ok(Cancellation::AtPeriodEnd)
        );
        assert_eq!(
            cancellation(Active, true, true),
            Ok(Cancellation::AlreadyScheduled)
        );
        assert_eq!(cancellation(PastDue, true, false), Ok(Cancellation::Now));
        assert!(cancellation(Canceled, false, true).is_err());
    }
}
