//! Plans: what a subscription pays, per which interval.

use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Currency;

/// How often a plan bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, async_graphql::Enum)]
#[serde(rename_all = "snake_case")]
#[graphql(name = "PlanInterval")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }

    pub fn as_db(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Year => "year",
        }
    }

    /// The end of a period that starts at `start`. Calendar months: a period starting on the
    /// 31st ends on the last day of a shorter month.
    pub fn period_end(self, start: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let months = match self {
            Self::Month => 1,
            Self::Year => 12,
        };
        start.checked_add_months(Months::new(months))
    }
}

/// A plan customers subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// In minor units of `currency`.
    pub price: i64,
    pub currency: Currency,
    pub interval: Interval,
    pub active: bool,
}

impl Plan {
    /// The invoice line for one period of this plan.
    pub fn line(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> super::NewLine {
        super::NewLine {
            description: format!(
                "{} ({}ly), {} to {}",
                self.name,
                self.interval.as_db(),
                start.format("%Y-%m-%d"),
                end.format("%Y-%m-%d")
            ),
            quantity: 1,
            unit_amount: self.price,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    #[test]
    fn periods_follow_calendar_months() {
        let jan31 = Utc
            .with_ymd_and_hms(2025, 1, 31, 12, 0, 0)
            .single()
            .expect("date");
        let end = Interval::Month.period_end(jan31).expect("in range");
        assert_eq!(
            end,
            Utc.with_ymd_and_hms(2025, 2, 28, 12, 0, 0)
                .single()
                .expect("date")
        );
        let year = Interval::Year.period_end(jan31).expect("in range");
        assert_eq!(
            year,
            Utc.with_ymd_and_hms(2026, 1, 31, 12, 0, 0)
                .single()
                .expect("date")
        );
    }
}
