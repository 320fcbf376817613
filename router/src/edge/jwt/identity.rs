//! The verified caller.

use std::borrow::Cow;
use std::sync::Arc;

use serde_json::{Map, Value};

/// The caller named by a verified token.
#[derive(Clone)]
pub struct Identity {
    /// The raw token, to forward to subgraphs. Never printed: `Debug` redacts it.
    pub token: Arc<str>,
    /// The token's claims.
    pub claims: Arc<Map<String, Value>>,
}

impl Identity {
    /// Scopes from the `scope` claim (space-separated string) or, when it is absent, `scp`
    /// (a string or an array of strings).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        let claim = self.claims.get("scope").or_else(|| self.claims.get("scp"));
        let spaced = claim.and_then(Value::as_str);
        let listed = claim.and_then(Value::as_array);
        spaced
            .into_iter()
            .flat_map(str::split_whitespace)
            .chain(listed.into_iter().flatten().filter_map(Value::as_str))
    }

    /// A claim by name, as text if it is a string, number or boolean. A name that is not a
    /// top-level claim is read as a dotted path (`org.id`), so namespaced claim names such as
    /// `https://example.com/role` still work.
    pub fn claim(&self, name: &str) -> Option<Cow<'_, str>> {
        let value = match self.claims.get(name) {
            Some(value) => value,
            None => {
                let mut segments = name.split('.');
                let first = self.claims.get(segments.next()?)?;
                segments.try_fold(first, |value, segment| value.as_object()?.get(segment))?
            }
        };
        match value {
            Value::String(text) => Some(Cow::Borrowed(text)),
            Value::Number(number) => Some(Cow::Owned(number.to_string())),
            Value::Bool(true) => Some(Cow::Borrowed("true")),
            Value::Bool(false) => Some(Cow::Borrowed("false")),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("token", &"[redacted]")
            .field("claims", &self.claims)
            .finish()
    }
}
