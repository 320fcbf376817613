//! Step 1c: the rate limits. Every rule that applies to the request is checked at once; the
//! tightest remaining budget goes back in `RateLimit-*` headers.

use http::HeaderMap;

use super::request::RequestError;
use super::{Engine, HttpRequest};
use crate::edge::jwt::Identity;
use crate::edge::rate_limit::{Decision, Input};

/// Admits the request or refuses it with `RATE_LIMITED` (429) or, when the limiter cannot
/// decide and fails closed, `RATE_LIMITER_UNAVAILABLE` (503).
pub async fn admit(
    engine: &Engine,
    identity: Option<&Identity>,
    http: &HttpRequest<'_>,
    operation: Option<&str>,
    out_headers: &mut HeaderMap,
) -> Result<(), RequestError> {
    let Some(limiter) = &engine.edge.rate_limiter else {
        return Ok(());
    };
    let input = Input {
        claims: identity.map(|i| &*i.claims),
        address: http.remote,
        headers: http.headers,
        operation,
    };
    match limiter.check(&input).await {
        Decision::Allowed(budget) => {
            if let Some(budget) = budget {
                out_headers.extend(budget.headers());
            }
            Ok(())
        }
        Decision::Limited {
            retry_after,
            budget,
        } => {
            out_headers.extend(budget.headers());
            Err(RequestError::RateLimited { retry_after })
        }
        Decision::Unavailable => Err(RequestError::RateLimiterUnavailable),
    }
}
