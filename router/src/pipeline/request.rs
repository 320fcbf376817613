//! GraphQL over HTTP at the edge: reading a request (POST JSON or GET query parameters),
//! choosing the response media type, and the request errors with their codes and statuses.

use apollo_compiler::response::{JsonMap, JsonValue as Value};
use http::{HeaderMap, Method, StatusCode, header};
use serde::Deserialize;

/// A GraphQL request as the client sent it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphQLRequest {
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub operation_name: Option<String>,
    #[serde(default)]
    pub variables: Option<JsonMap>,
    #[serde(default)]
    pub extensions: Option<JsonMap>,
}

/// The response media type the client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors use 4xx statuses.
    GraphQLResponse,
    /// `application/json`: every well-formed request gets 200.
    Json,
}

impl MediaType {
    pub fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphQLResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

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
    #[error("the server can answer only application/graphql-response+json or application/json")]
    NotAcceptable,
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("{0} operations are not allowed over GET; use POST")]
    MethodNotAllowed(&'static str),
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
    #[error("the document has more than {0} tokens")]
    MaxTokens(usize),
    #[error("the operation nests {found} fields deep; the limit is {limit}")]
    MaxDepth { found: usize, limit: usize },
    #[error("the operation has {found} aliases; the limit is {limit}")]
    MaxAliases { found: usize, limit: usize },
    #[error("the operation has {found} root fields; the limit is {limit}")]
    MaxRootFields { found: usize, limit: usize },
    #[error("the document has {found} directives; the limit is {limit}")]
    MaxDirectives { found: usize, limit: usize },
    #[error("the operation's estimated cost is {found}; the limit is {limit}")]
    Cost { found: u64, limit: u64 },
}

impl RequestError {
    /// The `extensions.code` of the error.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::MalformedBody(_)
            | RequestError::MissingQuery
            | RequestError::BadParameter(_) => "BAD_REQUEST",
            RequestError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            RequestError::NotAcceptable => "NOT_ACCEPTABLE",
            RequestError::PayloadTooLarge(_) => "PAYLOAD_TOO_LARGE",
            RequestError::MethodNotAllowed(_) => "METHOD_NOT_ALLOWED",
            RequestError::Parse(_) => "GRAPHQL_PARSE_FAILED",
            RequestError::Validation(_) => "GRAPHQL_VALIDATION_FAILED",
            RequestError::OperationNameRequired => "OPERATION_NAME_REQUIRED",
            RequestError::UnknownOperation(_) => "UNKNOWN_OPERATION_NAME",
            RequestError::Variables(_) => "BAD_USER_INPUT",
            RequestError::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            RequestError::SubscriptionUnsupported => "SUBSCRIPTION_NOT_SUPPORTED",
            RequestError::Planning(_) => "QUERY_PLANNING_FAILED",
            RequestError::MaxTokens(_) => "MAX_TOKENS_EXCEEDED",
            RequestError::MaxDepth { .. } => "MAX_DEPTH_EXCEEDED",
            RequestError::MaxAliases { .. } => "MAX_ALIASES_EXCEEDED",
            RequestError::MaxRootFields { .. } => "MAX_ROOT_FIELDS_EXCEEDED",
            RequestError::MaxDirectives { .. } => "MAX_DIRECTIVES_EXCEEDED",
            RequestError::Cost { .. } => "COST_LIMIT_EXCEEDED",
        }
    }

    /// The HTTP status. Errors in a well-formed request are 200 for `application/json`
    /// clients, as GraphQL over HTTP asks, and 4xx for `application/graphql-response+json`.
    pub fn status(&self, media: MediaType) -> StatusCode {
        let graphql_error = |status| match media {
            MediaType::GraphQLResponse => status,
            MediaType::Json => StatusCode::OK,
        };
        match self {
            RequestError::MalformedBody(_)
            | RequestError::MissingQuery
            | RequestError::BadParameter(_) => StatusCode::BAD_REQUEST,
            RequestError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            RequestError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::Parse(_)
            | RequestError::Validation(_)
            | RequestError::OperationNameRequired
            | RequestError::UnknownOperation(_)
            | RequestError::Variables(_)
            | RequestError::IntrospectionDisabled
            | RequestError::SubscriptionUnsupported
            | RequestError::MaxTokens(_)
            | RequestError::MaxDepth { .. }
            | RequestError::MaxAliases { .. }
            | RequestError::MaxRootFields { .. }
            | RequestError::MaxDirectives { .. }
            | RequestError::Cost { .. } => graphql_error(StatusCode::BAD_REQUEST),
            RequestError::Planning(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            other => {
                let mut map = JsonMap::new();
                map.insert("message", Value::String(other.to_string().into()));
                vec![with_code(Value::Object(map))]
            }
        }
    }
}

/// Picks the response media type from `Accept`. No header means `application/json`.
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, RequestError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(MediaType::Json);
    };
    let mut json = false;
    for item in accept.split(',') {
        let media = item
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            "application/graphql-response+json" => return Ok(MediaType::GraphQLResponse),
            "application/json" | "*/*" | "application/*" => json = true,
            _ => {}
        }
    }
    if json || accept.trim().is_empty() {
        Ok(MediaType::Json)
    } else {
        Err(RequestError::NotAcceptable)
    }
}

/// Reads a POST body.
pub fn from_post(headers: &HeaderMap, body: &[u8]) -> Result<GraphQLRequest, RequestError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if media != "application/json" && media != "application/graphql+json" {
        return Err(RequestError::UnsupportedMediaType);
    }
    let request: GraphQLRequest =
        serde_json::from_slice(body).map_err(|e| RequestError::MalformedBody(e.to_string()))?;
    Ok(request)
}

/// Reads GET query parameters (`variables` and `extensions` are JSON-encoded).
pub fn from_get(query: Option<&str>) -> Result<GraphQLRequest, RequestError> {
    let mut request = GraphQLRequest::default();
    for (key, value) in form_urlencoded_pairs(query.unwrap_or("")) {
        match key.as_str() {
            "query" => request.query = Some(value),
            "operationName" => request.operation_name = Some(value).filter(|v| !v.is_empty()),
            "variables" if !value.is_empty() => {
                request.variables = Some(serde_json::from_str(&value).map_err(|e| {
                    RequestError::BadParameter(format!("variables is not a JSON object: {e}"))
                })?)
            }
            "extensions" if !value.is_empty() => {
                request.extensions = Some(serde_json::from_str(&value).map_err(|e| {
                    RequestError::BadParameter(format!("extensions is not a JSON object: {e}"))
                })?)
            }
            _ => {}
        }
    }
    Ok(request)
}

/// Whether `method` may run an operation of this kind (GET runs queries only).
pub fn allows(
    method: &Method,
    kind: apollo_compiler::ast::OperationType,
) -> Result<(), RequestError> {
    use apollo_compiler::ast::OperationType;
    match (method, kind) {
        (&Method::GET, OperationType::Mutation) => Err(RequestError::MethodNotAllowed("mutation")),
        (&Method::GET, OperationType::Subscription) => {
            Err(RequestError::MethodNotAllowed("subscription"))
        }
        _ => Ok(()),
    }
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
