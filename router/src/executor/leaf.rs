//! Leaf values in the client's response: the built-in scalars checked as GraphQL execution
//! coerces results, and JSON text written with as little work as the value allows.

use std::io::Write as _;

use crate::json::Value;

/// A built-in scalar type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scalar {
    Int,
    Float,
    String,
    Boolean,
    Id,
}

impl Scalar {
    /// The built-in scalar named `name`, if it is one.
    pub(super) fn of(name: &str) -> Option<Self> {
        Some(match name {
            "Int" => Scalar::Int,
            "Float" => Scalar::Float,
            "String" => Scalar::String,
            "Boolean" => Scalar::Boolean,
            "ID" => Scalar::Id,
            _ => return None,
        })
    }
}

/// Writes `value` as a value of `scalar`, or says why it is not one (in graphql-js's words).
/// A whole number written as a float (`1.0`) is an Int, written as one.
pub(super) fn coerce(scalar: Scalar, value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match (scalar, value) {
        (Scalar::Int, Value::Number(n)) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => {
            write(out, value);
            Ok(())
        }
        (Scalar::Int, Value::Number(n)) => {
            let whole = match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Some(i as f64),
                (_, Some(u)) => Some(u as f64),
                _ => n.as_f64().filter(|f| f.fract() == 0.0),
            };
            match whole {
                Some(w) if (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&w) => {
                    let _ = write!(out, "{}", w as i32);
                    Ok(())
                }
                Some(_) => Err(format!(
                    "Int cannot represent non 32-bit signed integer value: {}",
                    describe(value)
                )),
                None => Err(format!(
                    "Int cannot represent non-integer value: {}",
                    describe(value)
                )),
            }
        }
        (Scalar::Float, Value::Number(_))
        | (Scalar::String | Scalar::Id, Value::String(_))
        | (Scalar::Boolean, Value::Bool(_)) => {
            write(out, value);
            Ok(())
        }
        (Scalar::Id, Value::Number(n)) if n.is_i64() || n.is_u64() => {
            write(out, value);
            Ok(())
        }
        (Scalar::Int, _) => Err(format!(
            "Int cannot represent non-integer value: {}",
            describe(value)
        )),
        (Scalar::Float, _) => Err(format!(
            "Float cannot represent non numeric value: {}",
            describe(value)
        )),
        (Scalar::String, _) => Err(format!(
            "String cannot represent value: {}",
            describe(value)
        )),
        (Scalar::Boolean, _) => Err(format!(
            "Boolean cannot represent a non boolean value: {}",
            describe(value)
        )),
        (Scalar::Id, _) => Err(format!("ID cannot represent value: {}", describe(value))),
    }
}

/// A value as an error message quotes it: JSON text, cut short when long.
fn describe(value: &Value) -> String {
    const MAX: usize = 80;
    let text = serde_json::to_string(value).unwrap_or_default();
    if text.len() <= MAX {
        return text;
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Writes a leaf value. Most strings need no escaping, so they are copied between quotes;
/// the rest go through the JSON writer.
pub(super) fn write(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::String(s) if !needs_escape(s.as_bytes()) => {
            out.reserve(s.len() + 2);
            out.push(b'"');
            out.extend_from_slice(s.as_bytes());
            out.push(b'"');
        }
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Null => out.extend_from_slice(b"null"),
        other => {
            let _ = sonic_rs::to_writer(&mut *out, other);
        }
    }
}

/// Whether a string needs escaping in JSON. No early exit, so the loop vectorizes: long
/// strings are the common case this is for.
fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |bad, &b| {
        bad | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}
