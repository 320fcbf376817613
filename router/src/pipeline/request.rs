//! GraphQL over HTTP at the edge: reading a request (POST JSON or GET query parameters),
//! and choosing the response media type.

use apollo_compiler::response::JsonMap;
use http::{HeaderMap, Method, header};
use serde::Deserialize;

pub use super::error::RequestError;

/// A GraphQL request as the client sent it.
#[derive(Debug, Default, Clone, Deserialize)]
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
