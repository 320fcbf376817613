//! The `MinorUnits` scalar.

use async_graphql::{InputValueError, InputValueResult, Number, Scalar, ScalarType, Value};

/// An amount in the minor unit of its currency (cents for EUR, yen for JPY), as a JSON integer;
/// 64-bit, exact in JavaScript up to 2^53.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinorUnits(pub i64);

/// An amount in the minor unit of its currency (cents for EUR, yen for JPY), as a JSON integer;
/// 64-bit, exact in JavaScript up to 2^53.
#[Scalar(name = "MinorUnits")]
impl ScalarType for MinorUnits {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n.as_i64().map(Self).ok_or_else(|| {
                InputValueError::custom("an amount is a whole number of minor units")
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::Number(n) if n.is_i64())
    }

    fn to_value(&self) -> Value {
        Value::Number(Number::from(self.0))
    }
}
