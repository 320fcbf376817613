//! Authentication settings.

use serde::Deserialize;

/// How callers are authenticated.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthenticationConfig {}
