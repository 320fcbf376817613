//! Money: amounts are `i64` counts of the currency's minor unit (cents for EUR, yen for JPY), so
//! arithmetic is exact; a currency is an ISO 4217 alphabetic code.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 alphabetic currency code, e.g. `EUR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parses a code: three upper-case ASCII letters.
    pub fn parse(code: &str) -> Option<Self> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Only upper-case ASCII letters get in, see `parse`.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for Currency {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("{value:?} is not an ISO 4217 currency code"))
    }
}

impl From<Currency> for String {
    fn from(value: Currency) -> Self {
        value.as_str().to_owned()
    }
}

/// An amount too large for the books.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the amount overflows")]
pub struct Overflow;

/// `quantity × unit_amount`, refusing overflow.
pub fn line_amount(quantity: i64, unit_amount: i64) -> Result<i64, Overflow> {
    quantity.checked_mul(unit_amount).ok_or(Overflow)
}

/// The sum of `amounts`, refusing overflow.
pub fn sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, Overflow> {
    amounts
        .into_iter()
        .try_fold(0i64, |acc, a| acc.checked_add(a).ok_or(Overflow))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(
            Currency::parse("EUR").map(|c| c.to_string()),
            Some("EUR".to_owned())
        );
        assert!(Currency::parse("eur").is_none());
        assert!(Currency::parse("EURO").is_none());
        assert!(Currency::parse("E1R").is_none());
        assert!(Currency::parse("").is_none());
    }

    #[test]
    fn sums_refuse_overflow() {
        assert_eq!(sum([900, 2900]), Ok(3800));
        assert_eq!(sum([i64::MAX, 1]), Err(Overflow));
        assert_eq!(line_amount(3, 900), Ok(2700));
        assert_eq!(line_amount(i64::MAX, 2), Err(Overflow));
    }
}
