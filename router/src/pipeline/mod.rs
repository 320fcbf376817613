//! The request lifecycle, one step per file, in the order a request meets them:
//!
//! 1. [`request`]: pick the response media type, refuse cross-site simple requests (CSRF),
//!    [`authenticate`] the caller, read the GraphQL-over-HTTP request, and [`admit`] it
//!    against the rate limits.
//! 2. [`parse`]: parse and validate against the API schema (cached per document).
//! 3. operation selection and variable coercion (here), then [`limits`] (depth, aliases,
//!    root fields, selections, directives, tokens), measured before fragments are expanded.
//! 4. [`plan`]: normalize, check the [`cost`], and plan (cached per operation
//!    and active [`overrides`] labels), then [`authorize`] the caller for what the operation touches.
//! 5. [`execute`]: run the plan, answer introspection, shape the response.
//!
//! The whole lifecycle runs under the overall request timeout; errors are [`error`]s.

pub mod admit;
pub mod authenticate;
pub mod authorize;
pub mod cost;
pub mod error;
pub mod execute;
pub mod limits;
pub mod overrides;
pub mod parse;
pub mod persisted;
pub mod plan;
pub mod request;

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apollo_compiler::executable::Operation as ExecutableOperation;
use apollo_compiler::response::{JsonMap, JsonValue as Value};
use apollo_compiler::schema::Implementers;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node};
use http::{HeaderMap, Method, StatusCode};
use lru::LruCache;

use crate::config::GatewayConfig;
use crate::config::subgraphs::Protocol;
use crate::edge::Edge;
use crate::edge::headers::SubgraphHeaders;
use crate::edge::jwt::Identity;
use crate::executor::{Endpoint, Executor, Transport};
use crate::planner::Graph;
use crate::supergraph::Supergraph;
use request::{MediaType, RequestError};

/// The header that asks for the query plan in `extensions.queryPlan`.
pub const QUERY_PLAN_HEADER: &str = "x-tessera-query-plan";

/// Everything derived from one supergraph and one configuration.
pub struct Engine {
    pub supergraph: Supergraph,
    pub graph: Graph,
    pub implementers: apollo_compiler::collections::HashMap<Name, Implementers>,
    pub executor: Executor,
    pub config: GatewayConfig,
    pub edge: Edge,
    /// What `@cost` and `@listSize` are called in the supergraph.
    pub cost_directives: cost::CostDirectives,
    /// Progressive `@override` labels: which are active for a request.
    pub overrides: overrides::Overrides,
    /// What subgraph requests carry from the client, and the client from subgraph responses.
    pub headers: crate::edge::headers::Rules,
    /// Whose forwarding headers name the client.
    pub proxies: crate::edge::client_address::TrustedProxies,
    /// Persisted documents and automatic persisted queries.
    pub persisted: Arc<persisted::Persisted>,
    pub(crate) hasher: ahash::RandomState,
    pub(crate) documents: Mutex<LruCache<parse::DocumentKey, parse::Parsed>>,
    pub(crate) plans: Mutex<LruCache<plan::PlanKey, Arc<plan::Planned>>>,
    /// Plans being made: concurrent misses of one operation wait for one planning.
    pub(crate) planning: plan::InFlight,
    /// Open subscription channels; one registry serves every engine a reload brings.
    pub subscriptions: Arc<crate::subscriptions::Registry>,
    /// GraphQL over SSE single connection mode reservations, shared like `subscriptions`.
    pub reservations: Arc<crate::subscriptions::Reservations>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("subgraphs", &self.graph.subgraphs)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// How many plans the plan cache holds.
    pub fn cached_plans(&self) -> usize {
        self.plans.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Reads `supergraph_sdl` and prepares to serve it with `config`.
    pub fn new(supergraph_sdl: &str, config: GatewayConfig) -> anyhow::Result<Self> {
        Self::build(supergraph_sdl, config, None)
    }

    /// The engine that takes over from this one for a changed supergraph or configuration,
    /// keeping the caches of the edge whose configuration did not change.
    pub fn reload(&self, supergraph_sdl: &str, config: GatewayConfig) -> anyhow::Result<Self> {
        Self::build(supergraph_sdl, config, Some(self))
    }

    fn build(
        supergraph_sdl: &str,
        config: GatewayConfig,
        previous: Option<&Engine>,
    ) -> anyhow::Result<Self> {
        config.check()?;
        let supergraph = Supergraph::parse(supergraph_sdl)?;
        let graph = Graph::new(&supergraph).map_err(anyhow::Error::msg)?;
        let url_of = |s: &crate::planner::graph::SubgraphInfo| {
            config
                .subgraphs
                .0
                .get(&s.name)
                .map_or_else(|| s.url.clone(), |c| c.url.clone())
        };
        let urls: Vec<String> = graph.subgraphs.iter().map(url_of).collect();
        let mut slots = Endpoint::slots_by_origin(
            urls.iter().map(String::as_str),
            config.traffic.subgraph_max_connections_per_host,
        );
        // A reload with the same limit keeps each origin's slots: requests in flight on the
        // engine it replaces still count.
        if let Some(previous) = previous.filter(|p| {
            p.config.traffic.subgraph_max_connections_per_host
                == config.traffic.subgraph_max_connections_per_host
        }) {
            for endpoint in previous.executor.endpoints() {
                if let Some(slot) = slots.get_mut(&crate::executor::fetch::origin(&endpoint.url)) {
                    *slot = endpoint.slots.clone();
                }
            }
        }
        let endpoints = graph
            .subgraphs
            .iter()
            .zip(urls)
            .map(|(s, url)| {
                let configured = config.subgraphs.0.get(&s.name);
                Endpoint {
                    slots: slots[&crate::executor::fetch::origin(&url)].clone(),
                    max_response_bytes: configured
                        .and_then(|c| c.max_response_bytes)
                        .unwrap_or(config.traffic.subgraph_max_response_bytes),
                    name: s.name.clone(),
                    subscription_url: configured
                        .and_then(|c| c.subscription_url.clone())
                        .unwrap_or_else(|| crate::config::subgraphs::websocket_url(&url)),
                    url,
                    h2c: configured.is_some_and(|c| c.protocol == Protocol::H2c),
                    timeout: Duration::from_millis(
                        configured.map_or(crate::config::subgraphs::default_timeout_ms(), |c| {
                            c.timeout_ms
                        }),
                    ),
                }
            })
            .collect();
        for name in config.subgraphs.0.keys() {
            if !graph.subgraphs.iter().any(|s| &s.name == name) {
                anyhow::bail!(
                    "the configuration names subgraph {name}, which the supergraph does not have"
                );
            }
        }
        let names: Vec<&str> = graph.subgraphs.iter().map(|s| s.name.as_str()).collect();
        let headers = crate::edge::headers::Rules::new(&config.headers, &names)?;
        let proxies = crate::edge::client_address::TrustedProxies::new(
            &config.server.trusted_proxies,
            config.server.forwarded_header,
        )?;
        let size = |n: usize| NonZeroUsize::new(n.max(1)).expect("at least one");
        let edge = Edge::new(&config, &supergraph, previous.map(|p| (&p.edge, &p.config)))?;
        let overrides = overrides::Overrides::new(&graph, &config.query_plan.override_labels)?;
        // Kept across a reload that leaves it unchanged: its registered documents and its
        // manifest watcher carry over.
        let persisted = match previous {
            Some(p) if p.persisted.config() == &config.persisted_documents => p.persisted.clone(),
            _ => persisted::Persisted::new(
                &config.persisted_documents,
                config
                    .reload
                    .watch
                    .then(|| Duration::from_millis(config.reload.interval_ms.max(10))),
                previous.map(|p| &*p.persisted),
            )?,
        };
        Ok(Self {
            edge,
            overrides,
            implementers: supergraph.api.implementers_map(),
            cost_directives: cost::CostDirectives::of(&supergraph.links),
            executor: Executor::new(
                Transport::new(config.compression.subgraphs)?,
                endpoints,
                config.dedupe.subgraph_queries,
            )
            .combining(config.query_plan.combine_entity_fetches),
            supergraph,
            graph,
            headers,
            proxies,
            persisted,
            hasher: ahash::RandomState::new(),
            documents: Mutex::new(LruCache::new(size(config.query_plan.document_cache_size))),
            plans: Mutex::new(LruCache::new(size(config.query_plan.cache_size))),
            planning: Default::default(),
            subscriptions: previous.map_or_else(Default::default, |p| p.subscriptions.clone()),
            reservations: previous.map_or_else(Default::default, |p| p.reservations.clone()),
            config,
        })
    }
}

/// An HTTP request as the pipeline needs it.
pub struct HttpRequest<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    pub query_string: Option<&'a str>,
    pub body: &'a [u8],
    /// The client's address, for rate limits keyed by address.
    pub remote: Option<std::net::IpAddr>,
}

/// The encoded response.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Headers besides `Content-Type` (rate-limit budget, `Retry-After`, ...).
    pub headers: HeaderMap,
}

/// Runs one GraphQL-over-HTTP request (one operation, or a batch of them) through the
/// lifecycle, within the request timeout counted from `received` (when its head arrived).
pub async fn run(
    engine: &Engine,
    http: HttpRequest<'_>,
    received: tokio::time::Instant,
) -> HttpResponse {
    let media = match request::negotiate(http.headers) {
        Ok(media) => media,
        Err(e) => return encode_error(&e, MediaType::Json),
    };
    let mut headers = HeaderMap::new();
    let limit = engine.config.traffic.timeout_ms;
    let deadline = received + Duration::from_millis(limit);
    let outcome = tokio::time::timeout_at(
        deadline,
        run_inner(engine, &http, media, deadline, &mut headers),
    )
    .await
    .unwrap_or(Err(RequestError::Timeout(limit)));
    let mut response = match outcome {
        Ok(response) => response,
        Err(e) => encode_error(&e, media),
    };
    response.headers.extend(headers);
    response
}

async fn run_inner(
    engine: &Engine,
    http: &HttpRequest<'_>,
    media: MediaType,
    deadline: tokio::time::Instant,
    out_headers: &mut HeaderMap,
) -> Result<HttpResponse, RequestError> {
    let identity = authenticate::authenticate(engine, http.headers).await?;
    match read(engine, http)? {
        request::Posted::One(request) => {
            one(engine, identity.as_ref(), http, request, media, out_headers).await
        }
        request::Posted::Batch(items) => {
            let batch = Batch {
                identity: identity.as_ref(),
                media,
                deadline,
            };
            batch.run(engine, http, items, out_headers).await
        }
    }
}

/// One operation, admitted, prepared and executed.
async fn one(
    engine: &Engine,
    identity: Option<&Identity>,
    http: &HttpRequest<'_>,
    request: request::GraphQLRequest,
    media: MediaType,
    out_headers: &mut HeaderMap,
) -> Result<HttpResponse, RequestError> {
    admit::admit(
        engine,
        identity,
        http,
        request.operation_name.as_deref(),
        out_headers,
    )
    .await?;
    let prepared = prepare(engine, identity, http, request, false).await?;
    if prepared.operation.operation_type.is_subscription() {
        return Err(RequestError::SubscriptionUnsupported);
    }
    let plan = prepared.planned.clone();
    let mut response = prepared.execute(engine).await?;
    let wants_plan = engine.config.query_plan.expose
        && http
            .headers
            .get(QUERY_PLAN_HEADER)
            .is_some_and(|v| v.as_bytes() != b"0" && v.as_bytes() != b"false");
    let status = media.executed(!response.errors.is_empty());
    let plan = wants_plan.then_some(&plan.plan);
    let headers = std::mem::take(&mut response.headers);
    Ok(HttpResponse {
        status,
        content_type: media.content_type(status),
        body: response.encode(plan),
        headers,
    })
}

/// What every operation of one batch shares.
struct Batch<'a> {
    identity: Option<&'a Identity>,
    media: MediaType,
    /// The request's: an operation still running then is answered `REQUEST_TIMEOUT` in its
    /// place in the list.
    deadline: tokio::time::Instant,
}

impl Batch<'_> {
    /// Each operation runs on its own, all at once, and the answers come back as a JSON list
    /// in the batch's order with 200, whatever each one's own status. Each operation counts
    /// against the rate limits; identical subgraph fetches of the batch are shared by dedupe
    /// like those of concurrent requests.
    async fn run(
        self,
        engine: &Engine,
        http: &HttpRequest<'_>,
        items: Vec<Result<request::GraphQLRequest, RequestError>>,
        out_headers: &mut HeaderMap,
    ) -> Result<HttpResponse, RequestError> {
        let limit = engine.config.batching.max_size;
        if items.is_empty() {
            return Err(RequestError::BadParameter(
                "the batch holds no operation".to_owned(),
            ));
        }
        if items.len() > limit {
            return Err(RequestError::BatchTooLarge {
                found: items.len(),
                limit,
            });
        }
        let Batch {
            identity,
            media,
            deadline,
        } = self;
        let timeout = engine.config.traffic.timeout_ms;
        let answers = futures::future::join_all(items.into_iter().map(|item| async move {
            let mut headers = HeaderMap::new();
            let outcome = match item {
                Ok(request) => tokio::time::timeout_at(
                    deadline,
                    one(engine, identity, http, request, media, &mut headers),
                )
                .await
                .unwrap_or(Err(RequestError::Timeout(timeout))),
                Err(error) => Err(error),
            };
            let mut response = outcome.unwrap_or_else(|e| encode_error(&e, media));
            response.headers.extend(headers);
            response
        }))
        .await;
        let mut body =
            Vec::with_capacity(answers.iter().map(|a| a.body.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, answer) in answers.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&answer.body);
        }
        body.push(b']');
        out_headers.extend(batch_headers(answers.into_iter().map(|a| a.headers)));
        // A list of GraphQL responses is not one graphql-response+json document.
        Ok(HttpResponse {
            status: StatusCode::OK,
            content_type: MediaType::Json.content_type(StatusCode::OK),
            body,
            headers: HeaderMap::new(),
        })
    }
}

/// The headers of a batch's answer from those of its items: every `Set-Cookie`; the union of
/// `Vary`; one `Cache-Control` when the items agree, `no-store` otherwise; the rate-limit
/// headers of the item left with the least budget; any other header as its last item gave it
/// (all its values).
fn batch_headers(items: impl Iterator<Item = HeaderMap>) -> HeaderMap {
    use http::header::{CACHE_CONTROL, RETRY_AFTER, SET_COOKIE, VARY};
    const RATE_LIMIT: [&str; 4] = [
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "retry-after",
    ];
    let mut out = HeaderMap::new();
    let mut vary: Vec<String> = Vec::new();
    let mut cache_control: Option<Vec<http::HeaderValue>> = None;
    let mut tightest: Option<(u64, HeaderMap)> = None;
    for mut item in items {
        for cookie in item.get_all(SET_COOKIE) {
            out.append(SET_COOKIE, cookie.clone());
        }
        item.remove(SET_COOKIE);
        for value in item.get_all(VARY) {
            for token in value.to_str().unwrap_or("").split(',') {
                let token = token.trim().to_ascii_lowercase();
                if !token.is_empty() && !vary.contains(&token) {
                    vary.push(token);
                }
            }
        }
        item.remove(VARY);
        let own: Vec<_> = item.get_all(CACHE_CONTROL).iter().cloned().collect();
        item.remove(CACHE_CONTROL);
        cache_control = match cache_control {
            None => Some(own),
            Some(seen) if seen == own => Some(seen),
            Some(_) => Some(vec![http::HeaderValue::from_static("no-store")]),
        };
        let mut limits = HeaderMap::new();
        for name in RATE_LIMIT {
            if let Some(value) = item.remove(name) {
                limits.insert(name, value);
            }
        }
        if !limits.is_empty() {
            let remaining = limits
                .get("ratelimit-remaining")
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .unwrap_or(if limits.contains_key(RETRY_AFTER) {
                    0
                } else {
                    u64::MAX
                });
            if tightest.as_ref().is_none_or(|(r, _)| remaining < *r) {
                tightest = Some((remaining, limits));
            }
        }
        let names: Vec<http::HeaderName> = item.keys().cloned().collect();
        for name in names {
            out.remove(&name);
            for value in item.get_all(&name) {
                out.append(name.clone(), value.clone());
            }
        }
    }
    if !vary.is_empty()
        && let Ok(value) = http::HeaderValue::from_str(&vary.join(", "))
    {
        out.insert(VARY, value);
    }
    for value in cache_control.unwrap_or_default() {
        out.append(CACHE_CONTROL, value);
    }
    if let Some((_, limits)) = tightest {
        out.extend(limits);
    }
    out
}

/// Reads the GraphQL request from the query string (GET) or the body, and refuses what a
/// browser could have sent cross-site without a preflight.
pub fn read(engine: &Engine, http: &HttpRequest<'_>) -> Result<request::Posted, RequestError> {
    let request = if http.method == Method::GET {
        request::Posted::One(request::from_get(http.query_string)?)
    } else {
        if http.body.len() > engine.config.limits.max_body_bytes {
            return Err(RequestError::PayloadTooLarge(
                engine.config.limits.max_body_bytes,
            ));
        }
        request::from_post(http.headers, http.body, engine.config.batching.enabled)?
    };
    // After reading: a POST a browser may send cross-site (a form or text body) is already
    // refused for its media type, so in practice this guards GET (see `edge::csrf`).
    if !engine.edge.csrf.allows(http.headers) {
        return Err(RequestError::CsrfPrevented(
            engine.edge.csrf.accepted_headers(),
        ));
    }
    Ok(request)
}

/// [`read`] for a transport that answers one operation (an event stream): a batch is refused.
pub fn read_one(
    engine: &Engine,
    http: &HttpRequest<'_>,
) -> Result<request::GraphQLRequest, RequestError> {
    match read(engine, http)? {
        request::Posted::One(request) => Ok(request),
        request::Posted::Batch(_) => Err(RequestError::BadParameter(
            "an event stream carries one operation; a batch is answered only as JSON".to_owned(),
        )),
    }
}

/// An operation admitted, validated, planned and authorized for its caller: what executing it
/// (once, or per subscription event) needs.
pub struct Prepared {
    pub document: Arc<Valid<ExecutableDocument>>,
    pub operation: Node<ExecutableOperation>,
    pub variables: Valid<JsonMap>,
    pub planned: Arc<plan::Planned>,
    /// Errors every response reports whatever the subgraphs answer (authorization).
    pub errors: Vec<crate::json::Value>,
    /// What each subgraph request carries.
    pub headers: SubgraphHeaders,
    /// The answer depends on the caller: a verified one, or one authorization withheld
    /// fields from.
    pub personal: bool,
    /// The document's text when the router supplied it (a persisted document's id or an APQ
    /// hash named it): what a subscription keeps to be prepared again after a reload.
    pub supplied: Option<Arc<str>>,
}

impl Prepared {
    /// Step 5: runs the operation once.
    pub async fn execute(self, engine: &Engine) -> Result<execute::Response, RequestError> {
        execute::execute(engine, self).await
    }
}

/// Steps 2 to 4 for a request read and admitted: parsing and validation, variables, limits,
/// planning and authorization. `streaming` says the response is an event stream, over which a
/// GET may subscribe.
pub async fn prepare(
    engine: &Engine,
    identity: Option<&Identity>,
    http: &HttpRequest<'_>,
    request: request::GraphQLRequest,
    streaming: bool,
) -> Result<Prepared, RequestError> {
    let resolved = engine.persisted.document(&request).await?;
    let key = parse::fingerprint(engine, &resolved.document);
    let document = parse::parse(engine, &key, &resolved.document).map_err(|e| (*e).clone())?;
    let supplied = resolved.supplied();
    // Rare (an APQ registration), so the copy is no cost on the hot path.
    let register = resolved
        .register
        .map(|hash| (hash, resolved.document.to_string()));
    drop(resolved);
    let operation = select(&document, request.operation_name.as_deref())?.clone();
    if !(streaming && operation.operation_type.is_subscription()) {
        request::allows(http.method, operation.operation_type)?;
    }
    let variables = coerce(engine, &operation, request.variables.unwrap_or_default())?;
    let labels = engine
        .overrides
        .relevant(engine.overrides.decide(http.headers), &document);
    let planned = plan::plan(engine, key, &document, &operation, &variables, labels).await?;
    // Cheap on a cache hit: the measurements travel with the plan.
    limits::check(&engine.config.limits, &planned.measure)?;
    if let Some((hash, text)) = register {
        engine.persisted.register(&hash, &text).await;
    }
    let (planned, errors) = authorize::authorize(engine, planned, identity, &variables).await?;
    let headers = engine
        .headers
        .requests(http.headers, identity.map(|i| &*i.token), http.remote);
    let personal = identity.is_some() || !errors.is_empty() || !planned.withheld.is_empty();
    Ok(Prepared {
        document,
        operation,
        variables,
        planned,
        errors,
        headers,
        personal,
        supplied,
    })
}

fn select<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Result<&'d Node<ExecutableOperation>, RequestError> {
    match name {
        Some(name) => document
            .operations
            .get(Some(name))
            .map_err(|_| RequestError::UnknownOperation(name.to_owned())),
        None => document
            .operations
            .get(None)
            .map_err(|_| RequestError::OperationNameRequired),
    }
}

/// Coerces the request's variable values for `operation`, with the OneOf input object rules
/// apollo-compiler does not apply yet.
fn coerce(
    engine: &Engine,
    operation: &ExecutableOperation,
    values: JsonMap,
) -> Result<apollo_compiler::validation::Valid<JsonMap>, RequestError> {
    let refuse = |message: String| {
        let mut map = JsonMap::new();
        map.insert("message", Value::String(message.into()));
        RequestError::Variables(vec![Value::Object(map)])
    };
    let api = &engine.supergraph.api;
    let coerced = apollo_compiler::request::coerce_variable_values(api, operation, &values)
        .map_err(|e| refuse(e.message().to_string()))?;
    if engine.supergraph.has_one_of {
        crate::validation::one_of::check_variables(api, operation, &coerced).map_err(refuse)?;
    }
    Ok(coerced)
}

/// Encodes a request error as a GraphQL response (no `data`: execution never started).
pub fn encode_error(error: &RequestError, media: MediaType) -> HttpResponse {
    let mut map = JsonMap::new();
    map.insert("errors", Value::Array(error.errors()));
    let mut headers = HeaderMap::new();
    error.headers(&mut headers);
    HttpResponse {
        status: error.status(media),
        content_type: media.content_type(error.status(media)),
        body: serde_json::to_vec(&Value::Object(map)).unwrap_or_else(|_| b"{}".to_vec()),
        headers,
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_batch_keeps_every_cookie_the_union_of_vary_and_the_tightest_budget() {
        let merged = super::batch_headers(
            [
                headers(&[
                    ("set-cookie", "a=1"),
                    ("set-cookie", "b=2"),
                    ("vary", "Origin, Accept"),
                    ("cache-control", "max-age=60"),
                    ("ratelimit-remaining", "5"),
                    ("ratelimit-limit", "10"),
                    ("x-multi", "one"),
                    ("x-multi", "two"),
                ]),
                headers(&[
                    ("set-cookie", "c=3"),
                    ("vary", "accept, Cookie"),
                    ("cache-control", "max-age=60"),
                    ("ratelimit-remaining", "2"),
                    ("ratelimit-limit", "10"),
                ]),
                headers(&[("ratelimit-remaining", "7"), ("ratelimit-limit", "10")]),
            ]
            .into_iter(),
        );
        let all = |name: &str| -> Vec<&str> {
            merged
                .get_all(name)
                .iter()
                .map(|v| v.to_str().expect("text"))
                .collect()
        };
        assert_eq!(all("set-cookie"), ["a=1", "b=2", "c=3"]);
        assert_eq!(all("vary"), ["origin, accept, cookie"]);
        assert_eq!(
            all("x-multi"),
            ["one", "two"],
            "one item's values, all of them"
        );
        assert_eq!(all("ratelimit-remaining"), ["2"]);
        // The third item says nothing of caching: the list may not be stored.
        assert_eq!(all("cache-control"), ["no-store"]);

        let agreeing = super::batch_headers(
            [
                headers(&[("cache-control", "max-age=60")]),
                headers(&[("cache-control", "max-age=60")]),
            ]
            .into_iter(),
        );
        assert_eq!(agreeing["cache-control"], "max-age=60");
    }
}
