//! Step 1b: who the caller is, from the JWT in the `Authorization` header or a cookie.

use http::HeaderMap;

use super::Engine;
use super::request::RequestError;
use crate::edge::jwt::Identity;

/// The verified caller; `None` when the request has no token and none is required (or
/// authentication is not configured). A token that is present is always checked.
pub async fn authenticate(
    engine: &Engine,
    headers: &HeaderMap,
) -> Result<Option<Identity>, RequestError> {
    let Some(authenticator) = &engine.edge.authenticator else {
        return Ok(None);
    };
    authenticator
        .authenticate(headers)
        .await
        .map_err(|e| RequestError::Token {
            code: e.code(),
            message: e.message(),
            status: e.status(),
        })
}
