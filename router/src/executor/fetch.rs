//! Subgraph requests: one pooled HTTP client, GraphQL over HTTP in both directions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::json::Value;
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::Semaphore;

/// Why a subgraph did not give a usable GraphQL response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("the request to subgraph {service} failed: {reason}")]
    Request { service: String, reason: String },
    #[error("subgraph {service} answered HTTP {status} without a GraphQL response")]
    Status { service: String, status: u16 },
    #[error("subgraph {service} returned an invalid GraphQL response: {reason}")]
    Invalid { service: String, reason: String },
    #[error("subgraph {service} answered more than the {limit} bytes the router reads")]
    TooLarge { service: String, limit: usize },
}

impl FetchError {
    /// The stable `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Request { .. } | FetchError::Status { .. } => "SUBGRAPH_REQUEST_FAILED",
            FetchError::Invalid { .. } => "SUBGRAPH_RESPONSE_INVALID",
            FetchError::TooLarge { .. } => "SUBGRAPH_RESPONSE_TOO_LARGE",
        }
    }
}

/// A subgraph's HTTP answer, before it is read as GraphQL.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
    pub headers: HeaderMap,
}

/// A subgraph's GraphQL response.
#[derive(Debug, Default, Clone)]
pub struct SubgraphResponse {
    pub data: Option<Value>,
    pub errors: Vec<Value>,
}

/// A subgraph's answer read as GraphQL once, for every request that waited on it.
#[derive(Debug)]
pub struct Received {
    /// The response's headers, when there was a response.
    pub headers: Option<HeaderMap>,
    pub response: Result<SubgraphResponse, FetchError>,
}

impl Received {
    /// `answer` read as GraphQL from `service`.
    pub fn of(service: &str, answer: Result<Answer, FetchError>) -> Self {
        match answer {
            Ok(answer) => Self {
                response: parse(service, answer.status, &answer.body),
                headers: Some(answer.headers),
            },
            Err(e) => Self {
                headers: None,
                response: Err(e),
            },
        }
    }
}

/// The HTTP side of subgraph fetches.
#[derive(Debug, Clone)]
pub struct Transport {
    http1: reqwest::Client,
    h2c: reqwest::Client,
}

/// How the router talks to one subgraph.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub name: String,
    pub url: String,
    /// Speak HTTP/2 without TLS (prior knowledge) instead of HTTP/1.1 keep-alive.
    pub h2c: bool,
    pub timeout: Duration,
    /// Where subscriptions to this subgraph are opened (WebSocket).
    pub subscription_url: String,
    /// The largest response body read.
    pub max_response_bytes: usize,
    /// Requests in flight to this subgraph's origin, shared with the other subgraphs served
    /// there.
    pub slots: Arc<Semaphore>,
}

impl Endpoint {
    /// The semaphores bounding requests in flight per origin (scheme, host and port), one per
    /// origin among `urls`, `per_origin` permits each.
    pub fn slots_by_origin<'a>(
        urls: impl IntoIterator<Item = &'a str>,
        per_origin: usize,
    ) -> ahash::HashMap<String, Arc<Semaphore>> {
        urls.into_iter()
            .map(|url| (origin(url), Arc::new(Semaphore::new(per_origin))))
            .collect()
    }
}

/// `scheme://host:port` of `url` (the whole string when it does not parse).
pub fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}

impl Transport {
    /// `compressed`: ask subgraphs for compressed responses, and decode them.
    pub fn new(compressed: bool) -> Result<Self, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .gzip(compressed)
                .brotli(compressed)
                .zstd(compressed)
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(512)
                .connect_timeout(Duration::from_secs(5))
                .user_agent(concat!("tessera-router/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Self {
            http1: base().http1_only().build()?,
            h2c: base().http2_prior_knowledge().build()?,
        })
    }

    /// Posts `body` (a GraphQL request) to `endpoint` and returns the status and body.
    pub async fn post(
        &self,
        endpoint: &Endpoint,
        body: Bytes,
        headers: HeaderMap,
    ) -> Result<Answer, FetchError> {
        let client = if endpoint.h2c { &self.h2c } else { &self.http1 };
        let started = Instant::now();
        // Waiting for a slot counts towards the fetch's timeout.
        let _slot = tokio::time::timeout(endpoint.timeout, endpoint.slots.acquire())
            .await
            .map_err(|_| FetchError::Request {
                service: endpoint.name.clone(),
                reason: "timed out waiting for a connection".to_owned(),
            })?
            .map_err(|_| FetchError::Request {
                service: endpoint.name.clone(),
                reason: "the router is shutting down".to_owned(),
            })?;
        let timeout = endpoint.timeout.saturating_sub(started.elapsed());
        let request_error = |e: reqwest::Error| FetchError::Request {
            service: endpoint.name.clone(),
            reason: if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "could not connect".to_owned()
            } else {
                e.without_url().to_string()
            },
        };
        let mut response = client
            .post(&endpoint.url)
            .headers(headers)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::ACCEPT,
                "application/graphql-response+json, application/json",
            )
            .timeout(timeout)
            .body(body)
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let body = read_limited(response, endpoint)
            .await?
            .map_err(request_error)?;
        Ok(Answer {
            status,
            body,
            headers,
        })
    }
}

/// The response body, refused as soon as it is known to exceed the endpoint's limit (by its
/// `Content-Length`, or while it streams in).
async fn read_limited(
    mut response: reqwest::Response,
    endpoint: &Endpoint,
) -> Result<Result<Bytes, reqwest::Error>, FetchError> {
    let limit = endpoint.max_response_bytes;
    let too_large = || FetchError::TooLarge {
        service: endpoint.name.clone(),
        limit,
    };
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = crate::body::Collected::new(limit);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.push(chunk).map_err(|_| too_large())?,
            Ok(None) => return Ok(Ok(body.finish())),
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// Reads a subgraph's response body. A non-2xx status is fine when the body is a GraphQL
/// response (GraphQL over HTTP uses 4xx for request errors).
pub fn parse(service: &str, status: u16, bytes: &[u8]) -> Result<SubgraphResponse, FetchError> {
    let value: Value = match sonic_rs::from_slice(bytes) {
        Ok(value) => value,
        Err(e) if (200..300).contains(&status) => {
            // The parser's message quotes the body, which is the subgraph's business: it goes
            // to the log, not to the client.
            tracing::warn!(service, error = %e, "subgraph response is not JSON");
            return Err(FetchError::Invalid {
                service: service.to_owned(),
                reason: "the body is not JSON".to_owned(),
            });
        }
        Err(_) => {
            return Err(FetchError::Status {
                service: service.to_owned(),
                status,
            });
        }
    };
    let Value::Object(mut map) = value else {
        return Err(FetchError::Invalid {
            service: service.to_owned(),
            reason: "the body is not a JSON object".to_owned(),
        });
    };
    let data = match map.remove("data") {
        None | Some(Value::Null) => None,
        Some(data @ Value::Object(_)) => Some(data),
        Some(_) => {
            return Err(FetchError::Invalid {
                service: service.to_owned(),
                reason: "data is not an object".to_owned(),
            });
        }
    };
    let errors = match map.remove("errors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(errors)) => errors,
        Some(_) => {
            return Err(FetchError::Invalid {
                service: service.to_owned(),
                reason: "errors is not a list".to_owned(),
            });
        }
    };
    if data.is_none() && errors.is_empty() {
        if !(200..300).contains(&status) {
            return Err(FetchError::Status {
                service: service.to_owned(),
                status,
            });
        }
        return Err(FetchError::Invalid {
            service: service.to_owned(),
            reason: "neither data nor errors".to_owned(),
        });
    }
    Ok(SubgraphResponse { data, errors })
}
