//! Errors that end a request before execution, each with its stable `extensions.code`, its
//! HTTP status and any response headers it needs.

use std::time::Duration;

use apollo_compiler::response::{JsonMap, JsonValue as Value};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::request::MediaType;

/// A request that fails before execution. Each has a stable code and an HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RequestError {
    #[error("the request body is not valid JSON: {0}")]
    MalformedBody(String),
    #[error("the request has no query")]
    MissingQuery,
    #[error("{0}")]
    BadParameter(String),
    #[error("POST requests must have Content-Type application/json")]
    UnsupportedMediaType,
    #[error("the request body's Content-Encoding is not one of gzip, br, zstd or identity")]
    UnsupportedEncoding,
    #[error("the server can answer only application/graphql-response+json or application/json")]
    NotAcceptable,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("the request body did not arrive within {0} ms")]
    BodyReadTimeout(u64),
    #[error("the request body could not be read")]
    BodyUnreadable,
    #[error("{0} operations are not allowed over GET; use POST")]
    MethodNotAllowed(&'static str),
    #[error("use GET or POST")]
    GetOrPost,
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    #[error("PersistedQueryNotSupported")]
    PersistedQueryNotSupported,
    #[error("this router runs only the operations of its persisted document list")]
    PersistedQueryNotInList,
    #[error("this router runs persisted documents by their id only; send documentId")]
    PersistedQueryIdRequired,
    #[error("the query's SHA-256 hash is not the one in extensions.persistedQuery")]
    PersistedQueryHashMismatch,
    #[error("the batch has {found} operations; the limit is {limit}")]
    BatchTooLarge { found: usize, limit: usize },
    #[error("this router does not take batches of operations; send one operation per request")]
    BatchingDisabled,
    #[error("the document does not parse")]
    Parse(Vec<Value>),
    #[error("the document is not valid for this schema")]
    Validation(Vec<Value>),
    #[error("the document has several operations; operationName must name one")]
    OperationNameRequired,
    #[error("the document has no operation named \"{0}\"")]
    UnknownOperation(String),
    #[error("the variables do not fit the operation")]
    Variables(Vec<Value>),
    #[error("introspection is disabled")]
    IntrospectionDisabled,
    #[error("subscriptions are not served over this transport")]
    SubscriptionUnsupported,
    #[error("the router could not plan this operation: {0}")]
    Planning(String),
    #[error(
        "planning this operation needs more work than the router allows (stopped after {steps} steps)"
    )]
    PlanningBudget { steps: u64 },
    #[error("the document has more than {0} tokens")]
    MaxTokens(usize),
    #[error("the operation nests {found} fields deep; the limit is {limit}")]
    MaxDepth { found: usize, limit: usize },
    #[error(
        "the document's selection sets nest {found} deep through its fragments; the limit is {limit}"
    )]
    MaxNesting { found: usize, limit: usize },
    #[error("the operation has {found} aliases; the limit is {limit}")]
    MaxAliases { found: usize, limit: usize },
    #[error("the operation has {found} root fields; the limit is {limit}")]
    MaxRootFields { found: usize, limit: usize },
    #[error("the operation selects {found} fields, fragments expanded; the limit is {limit}")]
    MaxSelections { found: usize, limit: usize },
    #[error("the document has {found} directives; the limit is {limit}")]
    MaxDirectives { found: usize, limit: usize },
    #[error("the operation's estimated cost is {found}; the limit is {limit}")]
    Cost { found: u64, limit: u64 },
    #[error("{field} needs exactly one of its slicing arguments ({arguments}) to be given")]
    SlicingArgument { field: String, arguments: String },
    #[error(
        "this request could have been sent cross-site without a CORS preflight; send it with \
         Content-Type application/json or one of these headers: {0}"
    )]
    CsrfPrevented(String),
    /// The token was refused; the message says why and never quotes the token.
    #[error("{message}")]
    Token {
        code: &'static str,
        message: &'static str,
        status: StatusCode,
    },
    #[error("too many requests; try again in {} s", retry_after.as_secs_f64().ceil())]
    RateLimited { retry_after: Duration },
    #[error("the rate limiter cannot decide right now; try again later")]
    RateLimiterUnavailable,
    #[error("the operation asks for fields the caller may not see")]
    Unauthorized {
        /// The response path of each refused field or fragment.
        paths: Vec<Vec<apollo_compiler::Name>>,
        authenticated: bool,
    },
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    #[error("WebSocket connections from this page's origin are not allowed")]
    OriginNotAllowed,
    #[error("GraphQL over SSE's single connection mode is not enabled")]
    SingleConnectionDisabled,
    #[error("no event stream is reserved under this token; it expired or ended")]
    StreamNotFound,
    #[error("the event stream was reserved by another caller")]
    StreamForbidden,
    #[error("the event stream of this reservation is already open")]
    StreamAlreadyOpen,
    #[error("too many event stream reservations are waiting to be opened; try again later")]
    TooManyReservations,
    #[error("an operation with this id is already open on the event stream")]
    OperationIdInUse,
    #[error("a connection may have at most {0} operations open")]
    TooManyOperations(usize),
    #[error("at most {0} operations may start before the event stream is opened; open it first")]
    StreamNotOpen(usize),
}

impl RequestError {
    /// The `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::MalformedBody(_)
            | RequestError::MissingQuery
            | RequestError::BadParameter(_) => "BAD_REQUEST",
            RequestError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            RequestError::UnsupportedEncoding => "UNSUPPORTED_CONTENT_ENCODING",
            RequestError::NotAcceptable => "NOT_ACCEPTABLE",
            RequestError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            RequestError::BodyReadTimeout(_) => "BODY_READ_TIMEOUT",
            RequestError::BodyUnreadable => "BAD_REQUEST",
            RequestError::MethodNotAllowed(_) | RequestError::GetOrPost => "METHOD_NOT_ALLOWED",
            RequestError::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            RequestError::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            RequestError::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            RequestError::PersistedQueryIdRequired => "PERSISTED_QUERY_ID_REQUIRED",
            RequestError::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            RequestError::BatchTooLarge { .. } => "BATCH_LIMIT_EXCEEDED",
            RequestError::BatchingDisabled => "BATCHING_NOT_ENABLED",
            RequestError::Parse(_) => "GRAPHQL_PARSE_FAILED",
            RequestError::Validation(_) => "GRAPHQL_VALIDATION_FAILED",
            RequestError::OperationNameRequired => "OPERATION_NAME_REQUIRED",
            RequestError::UnknownOperation(_) => "UNKNOWN_OPERATION_NAME",
            RequestError::Variables(_) => "BAD_USER_INPUT",
            RequestError::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            RequestError::SubscriptionUnsupported => "SUBSCRIPTION_NOT_SUPPORTED",
            RequestError::Planning(_) => "QUERY_PLANNING_FAILED",
            RequestError::PlanningBudget { .. } => "QUERY_PLANNING_BUDGET_EXCEEDED",
            RequestError::MaxTokens(_) => "MAX_TOKENS_EXCEEDED",
            RequestError::MaxDepth { .. } | RequestError::MaxNesting { .. } => "MAX_DEPTH_EXCEEDED",
            RequestError::MaxAliases { .. } => "MAX_ALIASES_EXCEEDED",
            RequestError::MaxRootFields { .. } => "MAX_ROOT_FIELDS_EXCEEDED",
            RequestError::MaxSelections { .. } => "MAX_SELECTIONS_EXCEEDED",
            RequestError::MaxDirectives { .. } => "MAX_DIRECTIVES_EXCEEDED",
            RequestError::Cost { .. } => "COST_LIMIT_EXCEEDED",
            RequestError::SlicingArgument { .. } => "SLICING_ARGUMENT_REQUIRED",
            RequestError::CsrfPrevented(_) => "CSRF_PREVENTED",
            RequestError::Token { code, .. } => code,
            RequestError::RateLimited { .. } => "RATE_LIMITED",
            RequestError::RateLimiterUnavailable => "RATE_LIMITER_UNAVAILABLE",
            RequestError::Unauthorized { .. } => "UNAUTHORIZED_FIELD_OR_TYPE",
            RequestError::Timeout(_) => "REQUEST_TIMEOUT",
            RequestError::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            RequestError::SingleConnectionDisabled => "SINGLE_CONNECTION_DISABLED",
            RequestError::StreamNotFound => "STREAM_NOT_FOUND",
            RequestError::StreamForbidden => "STREAM_FORBIDDEN",
            RequestError::StreamAlreadyOpen => "STREAM_ALREADY_OPEN",
            RequestError::TooManyReservations => "TOO_MANY_RESERVATIONS",
            RequestError::OperationIdInUse => "OPERATION_ID_IN_USE",
            RequestError::TooManyOperations(_) => "TOO_MANY_OPERATIONS",
            RequestError::StreamNotOpen(_) => "STREAM_NOT_OPEN",
        }
    }

    /// The HTTP status. Errors in a well-formed request are 200 for clients that prefer
    /// `application/json`, as GraphQL over HTTP asks, and 4xx otherwise.
    pub fn status(&self, media: MediaType) -> StatusCode {
        let graphql_error = |status| {
            if media.request_error_statuses() {
                status
            } else {
                StatusCode::OK
            }
        };
        match self {
            RequestError::MalformedBody(_)
            | RequestError::MissingQuery
            | RequestError::BadParameter(_)
            | RequestError::BodyUnreadable => StatusCode::BAD_REQUEST,
            RequestError::BodyReadTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            RequestError::UnsupportedMediaType | RequestError::UnsupportedEncoding => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            RequestError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            RequestError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::MethodNotAllowed(_) | RequestError::GetOrPost => {
                StatusCode::METHOD_NOT_ALLOWED
            }
            RequestError::BatchTooLarge { .. } | RequestError::BatchingDisabled => {
                StatusCode::BAD_REQUEST
            }
            RequestError::PersistedQueryNotInList | RequestError::PersistedQueryIdRequired => {
                graphql_error(StatusCode::FORBIDDEN)
            }
            // What APQ clients take as "send the text": a 4xx only for a client that asked for
            // GraphQL's own media type, since older clients (Apollo Client 3's `*/*`) stop
            // hashing on any 400.
            RequestError::PersistedQueryNotFound | RequestError::PersistedQueryNotSupported => {
                if media == MediaType::GraphQLResponse {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::OK
                }
            }
            RequestError::PersistedQueryHashMismatch
            | RequestError::Parse(_)
            | RequestError::Validation(_)
            | RequestError::OperationNameRequired
            | RequestError::UnknownOperation(_)
            | RequestError::Variables(_)
            | RequestError::IntrospectionDisabled
            | RequestError::SubscriptionUnsupported
            | RequestError::MaxTokens(_)
            | RequestError::MaxDepth { .. }
            | RequestError::MaxNesting { .. }
            | RequestError::MaxAliases { .. }
            | RequestError::MaxRootFields { .. }
            | RequestError::MaxSelections { .. }
            | RequestError::PlanningBudget { .. }
            | RequestError::MaxDirectives { .. }
            | RequestError::Cost { .. }
            | RequestError::SlicingArgument { .. } => graphql_error(StatusCode::BAD_REQUEST),
            RequestError::Planning(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::CsrfPrevented(_) => StatusCode::BAD_REQUEST,
            RequestError::Token { status, .. } => *status,
            RequestError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            RequestError::RateLimiterUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::Unauthorized { authenticated, .. } => {
                if *authenticated {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::UNAUTHORIZED
                }
            }
            RequestError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            RequestError::SingleConnectionDisabled | RequestError::StreamNotFound => {
                StatusCode::NOT_FOUND
            }
            RequestError::StreamForbidden | RequestError::OriginNotAllowed => StatusCode::FORBIDDEN,
            RequestError::StreamAlreadyOpen
            | RequestError::OperationIdInUse
            | RequestError::StreamNotOpen(_) => StatusCode::CONFLICT,
            RequestError::TooManyReservations => StatusCode::SERVICE_UNAVAILABLE,
            RequestError::TooManyOperations(_) => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Response headers the error calls for.
    pub fn headers(&self, out: &mut HeaderMap) {
        match self {
            RequestError::Token { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                out.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            RequestError::Unauthorized {
                authenticated: false,
                ..
            } => {
                out.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            RequestError::RateLimited { retry_after } => {
                let secs = retry_after.as_millis().div_ceil(1000).max(1);
                out.insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
            }
            RequestError::GetOrPost => {
                out.insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
            }
            // The operation, not the resource, refuses GET: POST is what it takes.
            RequestError::MethodNotAllowed(_) => {
                out.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            // A miss must not be cached (a CDN in front of hash-only GETs): once registered,
            // the same URL answers.
            RequestError::PersistedQueryNotFound | RequestError::PersistedQueryNotSupported => {
                out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            }
            RequestError::UnsupportedEncoding => {
                out.insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_static("gzip, br, zstd"),
                );
            }
            _ => {}
        }
    }

    /// The `errors` list of the response.
    pub fn errors(&self) -> Vec<Value> {
        let code = self.code();
        let with_code = |mut error: Value| {
            if let Value::Object(map) = &mut error {
                let mut extensions = match map.remove("extensions") {
                    Some(Value::Object(e)) => e,
                    _ => JsonMap::new(),
                };
                extensions.insert("code", Value::String(code.into()));
                map.insert("extensions", Value::Object(extensions));
            }
            error
        };
        match self {
            RequestError::Parse(errors)
            | RequestError::Validation(errors)
            | RequestError::Variables(errors) => errors.iter().cloned().map(with_code).collect(),
            RequestError::Unauthorized { paths, .. } => {
                paths.iter().map(|path| unauthorized_error(path)).collect()
            }
            other => {
                let mut map = JsonMap::new();
                map.insert("message", Value::String(other.to_string().into()));
                vec![with_code(Value::Object(map))]
            }
        }
    }
}

/// The error for one field or fragment the caller may not see.
pub fn unauthorized_error(path: &[apollo_compiler::Name]) -> Value {
    let mut map = JsonMap::new();
    map.insert(
        "message",
        Value::String("Unauthorized field or type".into()),
    );
    map.insert(
        "path",
        Value::Array(
            path.iter()
                .map(|k| Value::String(k.as_str().into()))
                .collect(),
        ),
    );
    let mut extensions = JsonMap::new();
    extensions.insert("code", Value::String("UNAUTHORIZED_FIELD_OR_TYPE".into()));
    map.insert("extensions", Value::Object(extensions));
    Value::Object(map)
}
