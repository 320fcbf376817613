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
    /// A persisted document's id, as GraphQL over HTTP's persisted documents name it
    /// (`documentId`), or as Relay sends it (`doc_id`, `id`).
    #[serde(default, alias = "doc_id", alias = "id")]
    pub document_id: Option<String>,
}

impl GraphQLRequest {
    /// This request as a subscription keeps it to prepare it again after a reload: with the
    /// text the router supplied in place of a persisted document's id or hash, and without
    /// an APQ hash, so that preparing it again neither depends on the store still holding
    /// the document nor registers it once more.
    pub fn resolved(mut self, supplied: Option<std::sync::Arc<str>>) -> Self {
        if let Some(text) = supplied {
            self.query = Some(text.to_string());
            self.document_id = None;
        }
        if let Some(extensions) = &mut self.extensions {
            extensions.remove("persistedQuery");
        }
        self
    }
}

/// A POST body: one request, or a batch of them (a JSON array of maps).
// Read once per request and taken apart at once: boxing the common case would cost an
// allocation for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Posted {
    One(GraphQLRequest),
    /// Each map read on its own: one that is not a request gets its own error.
    Batch(Vec<Result<GraphQLRequest, RequestError>>),
}

/// The response media type the client gets, and the statuses that go with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors use 4xx statuses, and a response
    /// with errors beside its data is a partial success (294).
    GraphQLResponse,
    /// `application/json`, preferred by a legacy client: every well-formed request gets 200.
    Json,
    /// The client named no GraphQL media type: request errors get their 4xx statuses as for
    /// `application/graphql-response+json`, but every 2xx response (data with errors
    /// included, which is 200 here: 294 is only for clients that asked for the GraphQL type)
    /// is labelled `application/json`, so that a legacy client still reads it, as GraphQL
    /// over HTTP recommends.
    Unstated,
}

/// The status GraphQL over HTTP gives a response with both `data` and `errors`
/// ("294 Partial Success").
pub fn partial_success() -> http::StatusCode {
    http::StatusCode::from_u16(294).unwrap_or(http::StatusCode::OK)
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

impl MediaType {
    /// The `Content-Type` of a response with `status`.
    pub fn content_type(self, status: http::StatusCode) -> &'static str {
        match self {
            MediaType::GraphQLResponse => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => JSON,
            MediaType::Unstated if status.is_success() => JSON,
            MediaType::Unstated => GRAPHQL_RESPONSE_JSON,
        }
    }

    /// Whether errors in a well-formed request get their 4xx status (otherwise 200).
    pub fn request_error_statuses(self) -> bool {
        self != MediaType::Json
    }

    /// The status of an executed response, by whether it carries errors.
    pub fn executed(self, has_errors: bool) -> http::StatusCode {
        if has_errors && self == MediaType::GraphQLResponse {
            partial_success()
        } else {
            http::StatusCode::OK
        }
    }
}

/// What the client's `Accept` header prefers, of what the router can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// One GraphQL response.
    Response(MediaType),
    /// GraphQL over SSE (`text/event-stream`).
    EventStream,
    /// Incremental delivery over `multipart/mixed`.
    Multipart,
    /// Nothing the router can answer is acceptable (406).
    Nothing,
}

/// The media ranges a response can be negotiated against, in the order the server prefers
/// them when the client weighs several alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Range {
    GraphQLResponse,
    Json,
    EventStream,
    Multipart,
    /// `*/*` or `application/*`: any single response, never a stream.
    Wildcard,
}

/// Reads `Accept` as RFC 9110 weighs it: the highest `q` wins, a `q` of 0 refuses, and among
/// equal weights the range listed first (clients list what they want most first; Apollo
/// Client puts `multipart/mixed` before the JSON types it also takes). A client that names no
/// GraphQL media type (no `Accept`, an empty one, or only wildcards) gets
/// [`MediaType::Unstated`].
pub fn preference(headers: &HeaderMap) -> Preference {
    let mut lines = headers.get_all(header::ACCEPT).iter().peekable();
    if lines.peek().is_none() {
        return Preference::Response(MediaType::Unstated);
    }
    // Several `Accept` lines are one list (RFC 9110, 5.3); one line, the usual case, is read
    // where it is.
    let mut joined = String::new();
    let mut only: Option<&str> = None;
    for (i, line) in lines.enumerate() {
        let Ok(line) = line.to_str() else {
            return Preference::Nothing;
        };
        match (i, only.take()) {
            (0, _) => only = Some(line),
            (_, first) => {
                if let Some(first) = first {
                    joined.push_str(first);
                }
                joined.push(',');
                joined.push_str(line);
            }
        }
    }
    let accept = only.unwrap_or(&joined);
    if accept.split(',').all(|item| item.trim().is_empty()) {
        return Preference::Response(MediaType::Unstated);
    }
    // The best (weight, range) so far, and which of the JSON types were refused outright.
    let mut best: Option<(u16, Range)> = None;
    let (mut json_refused, mut graphql_refused) = (false, false);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim();
        let range = if media.eq_ignore_ascii_case("application/graphql-response+json") {
            Range::GraphQLResponse
        } else if media.eq_ignore_ascii_case("application/json") {
            Range::Json
        } else if media.eq_ignore_ascii_case("text/event-stream") {
            Range::EventStream
        } else if media.eq_ignore_ascii_case("multipart/mixed") {
            Range::Multipart
        } else if media == "*/*" || media.eq_ignore_ascii_case("application/*") {
            Range::Wildcard
        } else {
            continue;
        };
        let mut weight = Some(1000);
        for parameter in parts {
            let Some((name, value)) = parameter.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("q") {
                weight = qvalue(value.trim());
            }
        }
        // A malformed weight makes the range unusable rather than guessing.
        let Some(weight) = weight else { continue };
        if weight == 0 {
            json_refused |= range == Range::Json;
            graphql_refused |= range == Range::GraphQLResponse;
            continue;
        }
        if best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, range));
        }
    }
    match best {
        None => Preference::Nothing,
        Some((_, Range::GraphQLResponse)) => Preference::Response(MediaType::GraphQLResponse),
        Some((_, Range::Json)) => Preference::Response(MediaType::Json),
        Some((_, Range::EventStream)) => Preference::EventStream,
        Some((_, Range::Multipart)) => Preference::Multipart,
        // A wildcard stands for the JSON type the client did not refuse.
        Some((_, Range::Wildcard)) if json_refused && graphql_refused => Preference::Nothing,
        Some((_, Range::Wildcard)) if json_refused => {
            Preference::Response(MediaType::GraphQLResponse)
        }
        Some((_, Range::Wildcard)) if graphql_refused => Preference::Response(MediaType::Json),
        Some((_, Range::Wildcard)) => Preference::Response(MediaType::Unstated),
    }
}

/// An RFC 9110 `qvalue` in thousandths: `0`, `0.5`, `1`, `1.000`; `None` when malformed.
fn qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Picks the response media type from `Accept` for a request answered with one response.
pub fn negotiate(headers: &HeaderMap) -> Result<MediaType, RequestError> {
    match preference(headers) {
        Preference::Response(media) => Ok(media),
        // A stream was preferred but this answer is a single response: the client listed a
        // JSON type too, or it would not have come here.
        Preference::EventStream | Preference::Multipart => Ok(MediaType::GraphQLResponse),
        Preference::Nothing => Err(RequestError::NotAcceptable),
    }
}

/// Reads a POST body: one request, or a batch when `batches` are taken (refused unread
/// otherwise).
pub fn from_post(headers: &HeaderMap, body: &[u8], batches: bool) -> Result<Posted, RequestError> {
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
    let malformed = |e: serde_json::Error| RequestError::MalformedBody(e.to_string());
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[') {
        return serde_json::from_slice(body)
            .map(Posted::One)
            .map_err(malformed);
    }
    if !batches {
        return Err(RequestError::BatchingDisabled);
    }
    // A batch is a list of maps; anything else in the list makes the body malformed.
    let items: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(body).map_err(malformed)?;
    Ok(Posted::Batch(
        items
            .into_iter()
            .map(|item| {
                serde_json::from_value(serde_json::Value::Object(item))
                    .map_err(|e| RequestError::BadParameter(format!("not a GraphQL request: {e}")))
            })
            .collect(),
    ))
}

/// Reads GET query parameters (`variables` and `extensions` are JSON-encoded).
pub fn from_get(query: Option<&str>) -> Result<GraphQLRequest, RequestError> {
    let mut request = GraphQLRequest::default();
    for (key, value) in form_urlencoded_pairs(query.unwrap_or("")) {
        match key.as_str() {
            "query" => request.query = Some(value),
            "operationName" => request.operation_name = Some(value).filter(|v| !v.is_empty()),
            // Not `id`: a common query parameter of pages that link to the endpoint.
            "documentId" | "doc_id" if !value.is_empty() => {
                request.document_id = Some(value);
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_accept_lines_are_one_list() {
        let mut headers = HeaderMap::new();
        headers.append(header::ACCEPT, "text/html".parse().expect("value"));
        headers.append(
            header::ACCEPT,
            "application/graphql-response+json".parse().expect("value"),
        );
        assert_eq!(
            preference(&headers),
            Preference::Response(MediaType::GraphQLResponse)
        );
    }

    fn pick(accept: Option<&str>) -> Preference {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(header::ACCEPT, accept.parse().expect("header value"));
        }
        preference(&headers)
    }

    #[test]
    fn accept_is_weighed_by_q_then_by_the_clients_order() {
        use MediaType::*;
        use Preference::*;
        let cases = [
            (None, Response(Unstated)),
            (Some(""), Response(Unstated)),
            (Some("*/*"), Response(Unstated)),
            (Some("application/*"), Response(Unstated)),
            (Some("application/json"), Response(Json)),
            (
                Some("application/graphql-response+json"),
                Response(GraphQLResponse),
            ),
            // What the spec tells clients that do not know the server to send.
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Response(GraphQLResponse),
            ),
            (
                Some("application/json, application/graphql-response+json;q=0.9"),
                Response(Json),
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                Response(Json),
            ),
            (Some("application/json;q=0, */*"), Response(GraphQLResponse)),
            (
                Some("application/graphql-response+json;q=0, */*"),
                Response(Json),
            ),
            (
                Some("application/graphql-response+json;q=0, application/json;q=0, */*"),
                Nothing,
            ),
            (Some(" , "), Response(Unstated)),
            (Some("application/json;q=0"), Nothing),
            (Some("text/html"), Nothing),
            (Some("application/json;q=2"), Nothing),
            (Some("application/json;q=0.0001"), Nothing),
            (Some("text/html, */*;q=0.1"), Response(Unstated)),
            (
                Some("APPLICATION/JSON; charset=utf-8; q=1.000"),
                Response(Json),
            ),
            (Some("text/event-stream"), EventStream),
            // Apollo Client's subscription Accept: the stream is listed first.
            (
                Some(
                    "multipart/mixed;boundary=\"graphql\";subscriptionSpec=1.0,application/graphql-response+json,application/json;q=0.9",
                ),
                Multipart,
            ),
            (Some("application/json, text/event-stream"), Response(Json)),
            (
                Some("text/event-stream;q=0.5, application/json"),
                Response(Json),
            ),
            (
                Some("application/json;q=0.5, text/event-stream"),
                EventStream,
            ),
        ];
        for (accept, expected) in cases {
            assert_eq!(pick(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn statuses_and_media_types_follow_the_negotiated_type() {
        use http::StatusCode;
        assert_eq!(MediaType::GraphQLResponse.executed(true).as_u16(), 294);
        assert_eq!(MediaType::GraphQLResponse.executed(false), StatusCode::OK);
        assert_eq!(MediaType::Json.executed(true), StatusCode::OK);
        assert_eq!(MediaType::Unstated.executed(true), StatusCode::OK);
        assert!(
            MediaType::Unstated
                .content_type(StatusCode::OK)
                .starts_with("application/json")
        );
        assert!(
            MediaType::Unstated
                .content_type(StatusCode::BAD_REQUEST)
                .starts_with("application/graphql-response+json")
        );
        let error = RequestError::Parse(Vec::new());
        assert_eq!(error.status(MediaType::Json), StatusCode::OK);
        assert_eq!(error.status(MediaType::Unstated), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_batch_is_a_list_of_maps_each_read_on_its_own() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json".parse().expect("value"),
        );
        let Ok(Posted::Batch(items)) = from_post(
            &headers,
            br#" [{"query":"{a}"},{"query":1},{"documentId":"x"}]"#,
            true,
        ) else {
            panic!("a batch");
        };
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[0].as_ref().expect("a request").query.as_deref(),
            Some("{a}")
        );
        assert!(matches!(items[1], Err(RequestError::BadParameter(_))));
        assert_eq!(
            items[2].as_ref().expect("a request").document_id.as_deref(),
            Some("x")
        );
        assert!(matches!(
            from_post(&headers, br#"[{"query":"{a}"}]"#, false),
            Err(RequestError::BatchingDisabled)
        ));
        assert!(matches!(
            from_post(&headers, br#"[1]"#, true),
            Err(RequestError::MalformedBody(_))
        ));
        assert!(matches!(
            from_post(&headers, br#"{"query":"{a}"}"#, false),
            Ok(Posted::One(_))
        ));
    }
}
