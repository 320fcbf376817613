//! Errors at the service edge.
//!
//! Two kinds: client errors, whose message is safe to show, and internal errors, which are
//! logged once where they are turned into a response and shown only as a generic message. Every
//! code declares its HTTP status in one exhaustive match.

use std::fmt;

use async_graphql::ErrorExtensions as _;
use axum::http::StatusCode;

/// The `extensions.code` values every Tessera service shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The HTTP request itself is malformed (not JSON, wrong content type, missing query).
    BadRequest,
    /// The request body exceeds the configured limit.
    PayloadTooLarge,
    /// The request's Content-Type is not one GraphQL over HTTP accepts.
    UnsupportedMediaType,
    /// The document does not parse as GraphQL.
    GraphqlParseFailed,
    /// The document does not validate against the schema, or its variables do not coerce.
    GraphqlValidationFailed,
    /// No valid credentials: missing where required, expired, tampered or unknown.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// An argument or input value is unacceptable.
    BadUserInput,
    /// The thing asked for does not exist (or is not visible to the caller).
    NotFound,
    /// The change conflicts with the current state.
    Conflict,
    /// The email address belongs to another account.
    EmailTaken,
    /// The email and password do not match an account.
    InvalidCredentials,
    /// A one-time or refresh token is unknown, expired or already used.
    InvalidToken,
    /// A refresh token was used twice; its whole family has been revoked.
    TokenReused,
    /// An idempotency key already named a different request.
    IdempotencyKeyReused,
    /// Too many attempts; retry later.
    RateLimited,
    /// A reply to a comment that is itself a reply: comments thread one level deep.
    ReplyTooDeep,
    /// A live subscription fell too far behind its events and was ended; subscribe again.
    SubscriberTooSlow,
    /// The account was created but is not set up in every service yet (its registration
    /// events are still on their way); the same request succeeds shortly.
    RegistrationPending,
    /// A dependency (database, broker, another service) is unavailable.
    ServiceUnavailable,
    /// Something went wrong on our side; details are in the logs, not the response.
    Internal,
}

impl ErrorCode {
    /// The stable string clients match on.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::Conflict => "CONFLICT",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::TokenReused => "TOKEN_REUSED",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::RateLimited => "RATE_LIMITED",
            Self::ReplyTooDeep => "REPLY_TOO_DEEP",
            Self::SubscriberTooSlow => "SUBSCRIBER_TOO_SLOW",
            Self::RegistrationPending => "REGISTRATION_PENDING",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status when this error decides the whole response (request-level errors).
    /// Field errors inside a GraphQL response travel with 200, as GraphQL over HTTP asks.
    pub fn http_status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::GraphqlParseFailed | Self::GraphqlValidationFailed => {
                StatusCode::BAD_REQUEST
            }
            Self::BadUserInput
            | Self::InvalidCredentials
            | Self::InvalidToken
            | Self::TokenReused
            | Self::IdempotencyKeyReused
            | Self::EmailTaken
            | Self::ReplyTooDeep => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            // The client did not keep up with the rate of events it asked for.
            Self::RateLimited | Self::SubscriberTooSlow => StatusCode::TOO_MANY_REQUESTS,
            Self::RegistrationPending | Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error a resolver returns. It deliberately has no `Display`: the only way out to a client
/// is the conversion into a GraphQL error below, which masks internal errors.
#[derive(Debug)]
pub enum ApiError {
    /// Safe to show: the message explains what the client can change.
    Client {
        code: ErrorCode,
        message: String,
        /// Seconds after which a retry may succeed (rate limits).
        retry_after: Option<u64>,
    },
    /// Not safe to show: logged once when converted, masked in the response.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

impl ApiError {
    pub fn client(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Client {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::BadUserInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::NotFound, message)
    }

    pub fn unauthenticated() -> Self {
        Self::client(ErrorCode::Unauthenticated, "authentication required")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::client(ErrorCode::Forbidden, message)
    }

    pub fn rate_limited(retry_after: u64) -> Self {
        Self::Client {
            code: ErrorCode::RateLimited,
            message: format!("too many attempts; retry in {retry_after}s"),
            retry_after: Some(retry_after),
        }
    }

    /// The code clients see.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Client { code, .. } => *code,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut => Self::client(
                ErrorCode::ServiceUnavailable,
                "the database is busy; retry shortly",
            ),
            other => Self::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Client {
                code,
                message,
                retry_after,
            } => async_graphql::Error::new(message).extend_with(|_, ext| {
                ext.set("code", code.as_str());
                if let Some(secs) = retry_after {
                    ext.set("retryAfter", secs);
                }
            }),
            ApiError::Internal(source) => {
                tracing::error!(error = format!("{source:#}"), "internal error");
                async_graphql::Error::new("internal error")
                    .extend_with(|_, ext| ext.set("code", ErrorCode::Internal.as_str()))
            }
        }
    }
}

/// Result type for resolvers and domain functions.
pub type ApiResult<T> = Result<T, ApiError>;

/// A request-level GraphQL error body: `{"errors":[{"message", "extensions":{"code"}}]}`.
pub fn error_body(code: ErrorCode, message: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] })
}

/// A request-level error as an HTTP response with the code's status.
pub fn error_response(code: ErrorCode, message: &str) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    (code.http_status(), axum::Json(error_body(code, message))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_are_masked() {
        let err: async_graphql::Error =
            ApiError::Internal(anyhow::anyhow!("password hash for bob is xyz")).into();
        assert_eq!(err.message, "internal error");
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("INTERNAL"))
        );
    }

    #[test]
    fn client_errors_carry_code_and_retry_after() {
        let err: async_graphql::Error = ApiError::rate_limited(7).into();
        let ext = err.extensions.expect("extensions");
        assert_eq!(
            ext.get("code"),
            Some(&async_graphql::Value::from("RATE_LIMITED"))
        );
        assert_eq!(ext.get("retryAfter"), Some(&async_graphql::Value::from(7)));
    }
}
