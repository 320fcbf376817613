//! Running a query plan: subgraph fetches (in parallel where the plan allows), `_entities`
//! batches with de-duplicated representations, and merging every result into one response
//! tree. Shaping that tree to the client's selection is [`shape`]'s job.
//!
//! - [`fetch`]: the pooled HTTP transport and subgraph response parsing.
//! - [`dedupe`]: one subgraph request shared by identical queries in flight.
//! - [`errors`]: subgraph and fetch errors, located in the client's response.
//! - [`leaf`]: built-in scalar coercion and leaf JSON text.
//! - [`merge`]: deep merge, object paths, representation projection.
//! - [`shape`]: the client's response: selection order, aliases, `__typename`, null
//!   propagation.

mod dedupe;
mod entities;
mod errors;
pub mod fetch;
mod leaf;
pub mod merge;
pub mod shape;

use std::sync::{Arc, Mutex};

use apollo_compiler::response::JsonMap;
use apollo_compiler::response::serde_json_bytes::ByteString;

use crate::json::{Map, Value};
use futures::future::{BoxFuture, FutureExt, join_all};
use http::HeaderMap;
use serde::Serialize;

pub use errors::{error_value, root_errors};
use errors::{fetch_error, root_keys, root_path, subgraph_error};
pub use fetch::{Endpoint, FetchError, Transport};

use crate::edge::headers::{Collected, Rules, SubgraphHeaders};
use merge::Step;

use crate::planner::{FetchNode, Graph, PlanNode, QueryPlan};

/// What one execution needs besides the plan.
pub struct Request<'a> {
    pub plan: &'a QueryPlan,
    pub graph: &'a Graph,
    pub variables: &'a JsonMap,
    /// What each subgraph request carries.
    pub headers: &'a SubgraphHeaders,
    /// The rules that take headers from subgraph responses to the client's, when any do.
    pub rules: Option<&'a Rules>,
    /// The answer depends on who asked (no shared cache may keep it).
    pub personal: bool,
}

/// The merged (not yet shaped) data and the errors raised on the way.
#[derive(Debug)]
pub struct Output {
    pub data: Value,
    pub errors: Vec<Value>,
    /// What the subgraph responses give the client's response.
    pub headers: HeaderMap,
}

/// Runs plans against the subgraphs.
#[derive(Clone)]
pub struct Executor {
    transport: Transport,
    endpoints: Arc<Vec<Endpoint>>,
    /// Share one subgraph request among identical queries in flight at the same time.
    dedupe: bool,
    /// Send the entity fetches of a step to one subgraph as one request.
    combine: bool,
    in_flight: Arc<dedupe::Table<Arc<fetch::Received>>>,
    hasher: ahash::RandomState,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("endpoints", &self.endpoints)
            .field("dedupe", &self.dedupe)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// `endpoints` is indexed like the planner's subgraphs.
    pub fn new(transport: Transport, endpoints: Vec<Endpoint>, dedupe: bool) -> Self {
        Self {
            transport,
            endpoints: Arc::new(endpoints),
            dedupe,
            combine: true,
            in_flight: Arc::default(),
            hasher: ahash::RandomState::new(),
        }
    }

    /// This executor, combining the entity fetches of a step to one subgraph into one request
    /// (`true`, the default) or not.
    pub fn combining(mut self, combine: bool) -> Self {
        self.combine = combine;
        self
    }

    /// Every subgraph's endpoint.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The endpoint of subgraph `subgraph` (indexed like the planner's subgraphs).
    pub fn endpoint(&self, subgraph: usize) -> Option<&Endpoint> {
        self.endpoints.get(subgraph)
    }

    /// Posts a query, or joins an identical one (same subgraph, body and forwarded headers)
    /// already in flight. The answer is read as GraphQL once, by whoever drives the request,
    /// and shared as read.
    async fn dedupe_post(
        &self,
        subgraph: usize,
        body: bytes::Bytes,
        headers: HeaderMap,
    ) -> Arc<fetch::Received> {
        let key = dedupe::Key::new(&self.hasher, subgraph, body, headers);
        let (shared, leader) = self.in_flight.join(key, |key| {
            let transport = self.transport.clone();
            let endpoints = self.endpoints.clone();
            let key = key.clone();
            async move {
                let endpoint = &endpoints[key.subgraph()];
                let answer = transport.post(endpoint, key.body(), key.headers()).await;
                Arc::new(fetch::Received::of(&endpoint.name, answer))
            }
            .boxed()
        });
        let received = shared.await;
        // Without the leader's hold on the request, a caller nobody else waited with owns the
        // answer alone and takes it without a copy.
        drop(leader);
        received
    }

    pub async fn execute(&self, request: Request<'_>) -> Output {
        self.execute_from(request, Value::Object(Map::new()), Vec::new())
            .await
    }

    /// Runs the plan on top of `data` and `errors` already fetched: a subscription event is
    /// the subscription fetch's result, and the rest of its plan completes it.
    pub async fn execute_from(
        &self,
        request: Request<'_>,
        data: Value,
        errors: Vec<Value>,
    ) -> Output {
        let run = Run {
            executor: self,
            request: &request,
            data: Mutex::new(data),
            errors: Mutex::new(errors),
            failed: Mutex::new(Vec::new()),
            answered: Mutex::new(Collected::default()),
        };
        if let Some(root) = &request.plan.root {
            run.node(root).await;
        }
        let mut data = run.data.into_inner().unwrap_or_else(|p| p.into_inner());
        for path in run.failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
            merge::null_at(&mut data, &path);
        }
        Output {
            data,
            errors: run.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
            headers: run
                .answered
                .into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .finish(request.personal),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    query: &'a str,
    #[serde(skip_serializing_if = "Variables::is_empty")]
    variables: Variables,
}

/// A fetch's variables: the client's it uses, and the representations of an entity fetch
/// under the variable name its operation declares.
struct Variables {
    client: JsonMap,
    /// The values of an entity fetch's context variables.
    context: Vec<(apollo_compiler::Name, Value)>,
    /// Each `_entities` call's representations, under its variable.
    representations: Vec<(apollo_compiler::Name, Vec<Value>)>,
}

impl Variables {
    fn is_empty(&self) -> bool {
        self.client.is_empty() && self.context.is_empty() && self.representations.is_empty()
    }
}

impl Serialize for Variables {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.client {
            map.serialize_entry(k.as_str(), v)?;
        }
        for (k, v) in &self.context {
            map.serialize_entry(k.as_str(), v)?;
        }
        for (name, representations) in &self.representations {
            map.serialize_entry(name.as_str(), representations)?;
        }
        map.end()
    }
}

struct Run<'a> {
    executor: &'a Executor,
    request: &'a Request<'a>,
    data: Mutex<Value>,
    errors: Mutex<Vec<Value>>,
    /// Where a root fetch's subgraph reported a field error (its own answer null there): a
    /// field shared by several root fetches is null if any of them failed it, whatever the
    /// others answered.
    failed: Mutex<Vec<Vec<Value>>>,
    /// The client response's headers from the subgraph responses so far.
    answered: Mutex<Collected>,
}

impl<'a> Run<'a> {
    fn node(&'a self, node: &'a PlanNode) -> BoxFuture<'a, ()> {
        async move {
            match node {
                PlanNode::Sequence { nodes } => {
                    for node in nodes {
                        self.node(node).await;
                    }
                }
                PlanNode::Parallel { nodes } => {
                    // The entity fetches of one step that go to one subgraph are one request:
                    // one `_entities` call per fetch, and one fetch for the same operation
                    // reached along several paths (its representations de-duplicated across
                    // them).
                    let mut batches: Vec<Vec<entities::Unit<'_>>> = Vec::new();
                    let mut others: Vec<&PlanNode> = Vec::new();
                    for node in nodes {
                        match node {
                            PlanNode::Flatten { path, node } => match node.as_ref() {
                                PlanNode::Fetch(fetch) => {
                                    let combine = self.executor.combine;
                                    let batch = match batches.iter_mut().find(|b| {
                                        b[0].0.subgraph == fetch.subgraph
                                            && (combine || b[0].0.same_request(fetch))
                                    }) {
                                        Some(batch) => batch,
                                        None => {
                                            batches.push(Vec::new());
                                            batches.last_mut().expect("just pushed")
                                        }
                                    };
                                    match batch.iter_mut().find(|(f, _)| f.same_request(fetch)) {
                                        Some((_, paths)) => paths.push(path),
                                        None => batch.push((fetch, vec![path])),
                                    }
                                }
                                _ => others.push(node),
                            },
                            other => others.push(other),
                        }
                    }
                    let batched = batches.iter().map(|units| self.entity_batch(units).boxed());
                    let rest = others.into_iter().map(|n| self.node(n));
                    join_all(batched.chain(rest)).await;
                }
                PlanNode::Flatten { path, node } => match node.as_ref() {
                    PlanNode::Fetch(fetch) => self.entity_batch(&[(fetch, vec![path])]).await,
                    other => self.node(other).await,
                },
                PlanNode::Fetch(fetch) => self.root_fetch(fetch).await,
            }
        }
        .boxed()
    }

    fn lock_data(&self) -> std::sync::MutexGuard<'_, Value> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push_errors(&self, errors: impl IntoIterator<Item = Value>) {
        self.errors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(errors);
    }

    fn variables(&self, fetch: &FetchNode) -> JsonMap {
        let mut out = JsonMap::new();
        for name in &fetch.variable_usages {
            if let Some(value) = self.request.variables.get(name.as_str()) {
                out.insert(ByteString::from(name.as_str()), value.clone());
            }
        }
        out
    }

    /// Sends `operation` (of `kind`) with `variables` to `subgraph`.
    async fn send(
        &self,
        subgraph: usize,
        kind: apollo_compiler::ast::OperationType,
        operation: &str,
        variables: Variables,
    ) -> Result<fetch::SubgraphResponse, FetchError> {
        let endpoint = &self.executor.endpoints[subgraph];
        let body: bytes::Bytes = sonic_rs::to_vec(&Body {
            query: operation,
            variables,
        })
        .map(bytes::Bytes::from)
        .map_err(|e| FetchError::Request {
            service: endpoint.name.clone(),
            reason: e.to_string(),
        })?;
        let headers = self.request.headers.of(subgraph).clone();
        // Response headers a rule copies (a `Set-Cookie`) belong to one client: a request
        // whose answer they are read from is never shared.
        let shared = self.executor.dedupe
            && kind.is_query()
            && self.request.rules.is_none_or(|r| !r.copies_responses());
        if !shared {
            let answer = self.executor.transport.post(endpoint, body, headers).await;
            self.collect_headers(subgraph, answer.as_ref().ok().map(|a| &a.headers));
            let answer = answer?;
            return fetch::parse(&endpoint.name, answer.status, &answer.body);
        }
        let received = self.executor.dedupe_post(subgraph, body, headers).await;
        self.collect_headers(subgraph, received.headers.as_ref());
        match Arc::try_unwrap(received) {
            Ok(alone) => alone.response,
            Err(shared) => shared.response.clone(),
        }
    }

    /// Takes what the rules read off a subgraph's response `headers` (`None`: it gave no
    /// response) into the client's.
    fn collect_headers(&self, subgraph: usize, headers: Option<&HeaderMap>) {
        if let Some(rules) = self.request.rules {
            let mut answered = self.answered.lock().unwrap_or_else(|p| p.into_inner());
            match headers {
                Some(headers) => rules.collect(&mut answered, subgraph, headers),
                // A part that failed promised nothing about caching.
                None => rules.collect_failure(&mut answered),
            }
        }
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        if !fetch.open(self.request.variables) {
            return;
        }
        let variables = Variables {
            client: self.variables(fetch),
            context: Vec::new(),
            representations: Vec::new(),
        };
        match self
            .send(fetch.subgraph, fetch.kind, &fetch.operation, variables)
            .await
        {
            Ok(response) => {
                let failed: Vec<Vec<Value>> = response
                    .errors
                    .iter()
                    .filter_map(|e| match (e.get("path"), &response.data) {
                        (Some(Value::Array(path)), Some(data)) => {
                            merge::null_on_the_way(data, path).filter(|at| !at.is_empty())
                        }
                        _ => None,
                    })
                    .collect();
                if let Some(mut data) = response.data {
                    if fetch.renames {
                        crate::planner::rename_back(&mut data);
                    }
                    merge::merge(&mut self.lock_data(), data);
                }
                if !failed.is_empty() {
                    self.failed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend(failed);
                }
                let errors = response
                    .errors
                    .into_iter()
                    .flat_map(|e| subgraph_error(e, &fetch.service_name, root_path));
                self.push_errors(errors);
            }
            Err(e) => {
                // One error for the fetch; located when the fetch stands for one root field.
                let keys = root_keys(fetch);
                let at = match keys.as_slice() {
                    [key] => Some(vec![Step::Key(key.clone())]),
                    _ => None,
                };
                // Its fields failed, whatever other fetches answered for them.
                self.failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(
                        keys.iter()
                            .map(|key| vec![Value::String(crate::planner::plain_key(key).into())]),
                    );
                self.push_errors([fetch_error(&e, &fetch.service_name, at.as_deref())]);
            }
        }
    }
}
