//! GraphQL over HTTP and WebSocket for a subgraph.
//!
//! Request-level failures (a body that is not JSON, a token that does not verify) are answered
//! with a GraphQL error body, a stable `extensions.code` and the matching HTTP status. A token,
//! when present, must verify; an absent token means an anonymous caller.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{BatchRequest, BatchResponse, Data};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{ConnectInfo, FromRequestParts as _, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::caller::{Caller, ClientAddr, TokenVerifier};
use crate::config::ClientAddressSource;
use crate::error::{ErrorCode, error_response};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

#[derive(Clone)]
pub struct GraphqlState<E> {
    pub schema: E,
    pub verifier: Arc<TokenVerifier>,
    pub client_address: ClientAddressRule,
}

/// Where the client's address is read from, with the secret that proves the router said it.
#[derive(Clone, Debug)]
pub struct ClientAddressRule {
    pub source: ClientAddressSource,
    pub router_secret: Option<Arc<crate::config::Secret<String>>>,
    /// This subgraph's name, which the router's signature covers.
    pub subgraph: &'static str,
}

/// The header the router vouches for the client's address in:
/// `<address>;ts=<unix seconds>;sig=<mac>`, the MAC being HMAC-SHA256 under the shared secret
/// of `v1|<subgraph name>|<address>|<ts>`, base64url without padding.
const ROUTER_ADDRESS: &str = "x-tessera-client-address";

/// How far a signature's time may be from this instance's clock, in seconds.
const ROUTER_ADDRESS_SKEW_SECS: u64 = 60;

fn client_addr(rule: &ClientAddressRule, peer: SocketAddr, headers: &HeaderMap) -> ClientAddr {
    let forwarded = match rule.source {
        ClientAddressSource::Peer => None,
        ClientAddressSource::ForwardedFor => headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse::<IpAddr>().ok()),
        ClientAddressSource::Router => rule.router_secret.as_deref().and_then(|secret| {
            let value = headers.get(ROUTER_ADDRESS)?.to_str().ok()?;
            vouched(value, secret.expose(), rule.subgraph, now_secs())
        }),
    };
    ClientAddr(forwarded.unwrap_or_else(|| peer.ip()))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The address in a router's header value, if its signature is right, for this subgraph and
/// recent.
fn vouched(value: &str, secret: &str, subgraph: &str, now: u64) -> Option<IpAddr> {
    use base64::Engine as _;
    use hmac::Mac as _;
    let (address, rest) = value.split_once(";ts=")?;
    let (ts, signature) = rest.split_once(";sig=")?;
    let at: u64 = ts.parse().ok()?;
    if at.abs_diff(now) > ROUTER_ADDRESS_SKEW_SECS {
        return None;
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .ok()?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(format!("v1|{subgraph}|{address}|{ts}").as_bytes());
    // Constant time: the comparison says nothing about how close a forgery came.
    mac.verify_slice(&signature).ok()?;
    address.parse().ok()
}

/// `POST /graphql`: a JSON body with `query`, `operationName`, `variables`, `extensions`
/// (or a batch of them).
pub async fn post<E>(
    State(state): State<GraphqlState<E>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response
where
    E: async_graphql::Executor,
{
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(ErrorCode::PayloadTooLarge, "the request body is too large");
        }
        Err(rejection) => return error_response(ErrorCode::BadRequest, &rejection.body_text()),
    };
    if !is_json(&headers) {
        return error_response(
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/json",
        );
    }
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(err) => {
            return error_response(
                ErrorCode::BadRequest,
                &format!("the body is not a GraphQL request: {err}"),
            );
        }
    };
    if batch.iter().any(|request| request.query.trim().is_empty()) {
        return error_response(ErrorCode::BadRequest, "the request has no query");
    }
    let caller = match authenticate(&state.verifier, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let batch = batch.data(client_addr(&state.client_address, peer, &headers));
    let batch = match caller {
        Some(caller) => batch.data(caller),
        None => batch,
    };
    respond(&headers, state.schema.execute_batch(batch).await)
}

/// `GET /graphql`: a WebSocket upgrade, or a query in the URL (queries only: a mutation over GET
/// is refused, as GraphQL over HTTP requires).
pub async fn get<E>(
    State(state): State<GraphqlState<E>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response
where
    E: async_graphql::Executor + Clone,
{
    let (mut parts, _body) = request.into_parts();
    if parts.headers.get(header::UPGRADE).is_some() {
        let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
            Ok(protocol) => protocol,
            Err(rejection) => return rejection.into_response(),
        };
        let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
            Ok(upgrade) => upgrade,
            Err(rejection) => return rejection.into_response(),
        };
        return websocket(state, upgrade, protocol);
    }
    let query = parts.uri.query().unwrap_or_default();
    let request = match async_graphql::http::parse_query_string(query) {
        Ok(request) => request,
        Err(err) => {
            return error_response(
                ErrorCode::BadRequest,
                &format!("invalid query string: {err}"),
            );
        }
    };
    if is_mutation(&request) {
        let mut response = error_response(ErrorCode::BadRequest, "mutations must use POST");
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let caller = match authenticate(&state.verifier, &parts.headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let request = request.data(client_addr(&state.client_address, peer, &parts.headers));
    let request = match caller {
        Some(caller) => request.data(caller),
        None => request,
    };
    respond(
        &parts.headers,
        BatchResponse::Single(state.schema.execute(request).await),
    )
}

/// Reason prefix of the close frame sent when `connection_init` carries a token that does not
/// verify; such closes go out with code 4403, as graphql-transport-ws specifies.
const FORBIDDEN: &str = "Forbidden: ";

fn websocket<E>(
    state: GraphqlState<E>,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
) -> Response
where
    E: async_graphql::Executor + Clone,
{
    let GraphqlState {
        schema, verifier, ..
    } = state;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            let (sink, stream) = futures::StreamExt::split(socket);
            let sink = futures::SinkExt::with(sink, |message: Message| async move {
                Ok::<_, axum::Error>(forbidden_close(message))
            });
            GraphQLWebSocket::new_with_pair(sink, stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let mut data = Data::default();
                    if let Some(token) = token_from_init(&payload) {
                        let caller = verifier.verify(&token).await.map_err(|err| {
                            async_graphql::Error::new(format!("{FORBIDDEN}{err}"))
                        })?;
                        data.insert(caller);
                    }
                    Ok(data)
                })
                .serve()
                .await;
        })
}

/// Turns the library's generic close (1002) for a refused token into 4403 Forbidden.
fn forbidden_close(message: Message) -> Message {
    match message {
        Message::Close(Some(frame))
            if frame.code == 1002 && frame.reason.starts_with(FORBIDDEN) =>
        {
            Message::Close(Some(CloseFrame {
                code: 4403,
                reason: frame.reason,
            }))
        }
        other => other,
    }
}

fn token_from_init(payload: &serde_json::Value) -> Option<String> {
    let value = payload
        .get("Authorization")
        .or_else(|| payload.get("authorization"))
        .or_else(|| {
            payload
                .get("headers")
                .and_then(|h| h.get("Authorization").or_else(|| h.get("authorization")))
        })?
        .as_str()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

/// The caller named by the `Authorization` header: `Ok(None)` when there is none, a 401 response
/// when there is one that does not verify.
pub async fn authenticate(
    verifier: &TokenVerifier,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Response> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| unauthenticated("the Authorization header must be `Bearer <token>`"))?;
    verifier
        .verify(token.trim())
        .await
        .map(Some)
        .map_err(|err| unauthenticated(&err.to_string()))
}

fn unauthenticated(message: &str) -> Response {
    let mut response = error_response(ErrorCode::Unauthenticated, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || mime.eq_ignore_ascii_case(GRAPHQL_RESPONSE)
        })
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let selected = match (&doc.operations, request.operation_name.as_deref()) {
        (async_graphql::parser::types::DocumentOperations::Single(op), _) => Some(&op.node),
        (async_graphql::parser::types::DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| &op.node)
        }
        (async_graphql::parser::types::DocumentOperations::Multiple(ops), None)
            if ops.len() == 1 =>
        {
            ops.values().next().map(|op| &op.node)
        }
        _ => None,
    };
    selected.is_some_and(|op| op.ty == async_graphql::parser::types::OperationType::Mutation)
}

/// Encodes the response. With `Accept: application/graphql-response+json`, a request that
/// failed before execution (parse or validation) gets 400, as GraphQL over HTTP specifies; with
/// plain JSON it stays 200.
fn respond(headers: &HeaderMap, response: BatchResponse) -> Response {
    let wants_graphql_response = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(GRAPHQL_RESPONSE));
    let request_failed = match &response {
        BatchResponse::Single(r) => {
            r.data == async_graphql::Value::Null && r.is_err() && before_execution(r)
        }
        BatchResponse::Batch(_) => false,
    };
    let status = if wants_graphql_response && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if wants_graphql_response {
        GRAPHQL_RESPONSE
    } else {
        "application/json"
    };
    let body = match serde_json::to_vec(&response) {
        Ok(body) => body,
        Err(err) => {
            tracing::error!(error = %err, "cannot encode a GraphQL response");
            return error_response(ErrorCode::Internal, "internal error");
        }
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn before_execution(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|code| {
                *code == async_graphql::Value::from(ErrorCode::GraphqlParseFailed.as_str())
                    || *code
                        == async_graphql::Value::from(ErrorCode::GraphqlValidationFailed.as_str())
            })
    })
}

#[cfg(test)]
mod address_tests {
    use super::*;
    use base64::Engine as _;
    use hmac::Mac as _;

    fn signed(address: &str, subgraph: &str, ts: u64, secret: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("v1|{subgraph}|{address}|{ts}").as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{address};ts={ts};sig={sig}")
    }

    #[test]
    fn only_a_recent_signature_for_this_subgraph_under_the_secret_is_believed() {
        let now = 1_800_000_000;
        let good = signed("203.0.113.9", "auth", now, "s");
        assert_eq!(vouched(&good, "s", "auth", now), "203.0.113.9".parse().ok());
        assert_eq!(
            vouched(&good, "s", "auth", now + 30),
            "203.0.113.9".parse().ok()
        );
        assert_eq!(vouched(&good, "s", "auth", now + 61), None, "too old");
        assert_eq!(vouched(&good, "other", "auth", now), None, "another secret");
        assert_eq!(
            vouched(&good, "s", "blog", now),
            None,
            "signed for another subgraph"
        );
        let tampered = good.replacen("203.0.113.9", "203.0.113.8", 1);
        assert_eq!(vouched(&tampered, "s", "auth", now), None);
        assert_eq!(vouched("203.0.113.9", "s", "auth", now), None, "unsigned");
    }
}
