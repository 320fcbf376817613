//! Why a request's token was refused.

use http::StatusCode;

/// Why a request's token was refused. Every message is safe to show the client; none repeats
/// the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    /// No token, and one is required.
    Missing,
    /// The token (or the header carrying it) is not a well-formed JWT.
    Malformed,
    /// The token's algorithm is not accepted, or does not fit the key it names.
    AlgorithmNotAllowed,
    /// No known key matches the token's `kid`, even after fetching the keys again.
    UnknownKey,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come yet.
    NotYetValid,
    /// `iss` is not one of the accepted issuers.
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    WrongAudience,
    /// The signature does not match.
    BadSignature,
    /// The token's key is unknown and no JWKS source can be reached to look for it.
    KeysUnavailable,
}

impl JwtError {
    /// The `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            JwtError::Missing => "TOKEN_MISSING",
            JwtError::Malformed => "TOKEN_MALFORMED",
            JwtError::AlgorithmNotAllowed => "TOKEN_ALGORITHM_NOT_ALLOWED",
            JwtError::UnknownKey => "TOKEN_UNKNOWN_KEY",
            JwtError::Expired => "TOKEN_EXPIRED",
            JwtError::NotYetValid => "TOKEN_NOT_YET_VALID",
            JwtError::WrongIssuer => "TOKEN_WRONG_ISSUER",
            JwtError::WrongAudience => "TOKEN_WRONG_AUDIENCE",
            JwtError::BadSignature => "TOKEN_BAD_SIGNATURE",
            JwtError::KeysUnavailable => "JWKS_UNAVAILABLE",
        }
    }

    /// The HTTP status: 401 for a token the client must replace, 503 when the router cannot
    /// tell because the keys are out of reach.
    pub fn status(&self) -> StatusCode {
        match self {
            JwtError::Missing
            | JwtError::Malformed
            | JwtError::AlgorithmNotAllowed
            | JwtError::UnknownKey
            | JwtError::Expired
            | JwtError::NotYetValid
            | JwtError::WrongIssuer
            | JwtError::WrongAudience
            | JwtError::BadSignature => StatusCode::UNAUTHORIZED,
            JwtError::KeysUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A message for the client.
    pub fn message(&self) -> &'static str {
        match self {
            JwtError::Missing => "an access token is required",
            JwtError::Malformed => "the access token is malformed",
            JwtError::AlgorithmNotAllowed => "the access token's algorithm is not accepted",
            JwtError::UnknownKey => "the access token was signed by an unknown key",
            JwtError::Expired => "the access token has expired",
            JwtError::NotYetValid => "the access token is not valid yet",
            JwtError::WrongIssuer => "the access token was issued by an issuer not accepted here",
            JwtError::WrongAudience => "the access token is meant for another audience",
            JwtError::BadSignature => "the access token's signature is invalid",
            JwtError::KeysUnavailable => "the token signing keys cannot be fetched right now",
        }
    }
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for JwtError {}
