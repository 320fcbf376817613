//! Rate-limit settings.

use serde::Deserialize;

/// Request budgets.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {}
