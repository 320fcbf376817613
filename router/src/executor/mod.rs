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
mod errors;
pub mod fetch;
mod leaf;
pub mod merge;
pub mod shape;

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use apollo_compiler::response::JsonMap;
use apollo_compiler::response::serde_json_bytes::ByteString;

use crate::json::{Map, Value};
use futures::future::{BoxFuture, FutureExt, join_all};
use http::HeaderMap;
use serde::Serialize;

use errors::{entity_paths, fetch_error, root_keys, root_path, subgraph_error};
pub use errors::{error_value, root_errors};
pub use fetch::{Endpoint, FetchError, Transport};
use merge::Step;

use crate::planner::{FetchNode, Graph, PathSegment, PlanNode, QueryPlan};

/// What one execution needs besides the plan.
pub struct Request<'a> {
    pub plan: &'a QueryPlan,
    pub graph: &'a Graph,
    pub variables: &'a JsonMap,
    /// Headers forwarded to every subgraph.
    pub headers: &'a HeaderMap,
}

/// The merged (not yet shaped) data and the errors raised on the way.
#[derive(Debug)]
pub struct Output {
    pub data: Value,
    pub errors: Vec<Value>,
}

/// Runs plans against the subgraphs.
#[derive(Clone)]
pub struct Executor {
    transport: Transport,
    endpoints: Arc<Vec<Endpoint>>,
    /// Share one subgraph request among identical queries in flight at the same time.
    dedupe: bool,
    in_flight: Arc<dedupe::Table>,
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
            in_flight: Arc::default(),
            hasher: ahash::RandomState::new(),
        }
    }

    /// The endpoint of subgraph `subgraph` (indexed like the planner's subgraphs).
    pub fn endpoint(&self, subgraph: usize) -> Option<&Endpoint> {
        self.endpoints.get(subgraph)
    }

    /// Posts a query, or joins an identical one (same subgraph, body and forwarded headers)
    /// already in flight.
    async fn dedupe_post(
        &self,
        subgraph: usize,
        body: bytes::Bytes,
        headers: HeaderMap,
    ) -> Result<(u16, bytes::Bytes), FetchError> {
        let key = dedupe::Key::new(&self.hasher, subgraph, body, headers);
        let (shared, _leader) = self.in_flight.join(key, |key| {
            let transport = self.transport.clone();
            let endpoints = self.endpoints.clone();
            let key = key.clone();
            async move {
                transport
                    .post(&endpoints[key.subgraph()], key.body(), key.headers())
                    .await
            }
            .boxed()
        });
        shared.await
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
        };
        if let Some(root) = &request.plan.root {
            run.node(root).await;
        }
        Output {
            data: run.data.into_inner().unwrap_or_else(|p| p.into_inner()),
            errors: run.errors.into_inner().unwrap_or_else(|p| p.into_inner()),
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
    representations: Option<(apollo_compiler::Name, Vec<Value>)>,
}

impl Variables {
    fn is_empty(&self) -> bool {
        self.client.is_empty() && self.context.is_empty() && self.representations.is_none()
    }
}

/// The concrete response paths of some objects.
type ObjectPaths = Vec<Vec<Step>>;

/// (part, representation) of an object in an entity fetch.
type Slot = (usize, usize);

/// The objects of an entity fetch that share their context values: one request.
struct Part {
    context: Vec<Value>,
    representations: Vec<Value>,
}

/// The `_entities` list of an entity fetch's response, with renamed fields moved back.
fn entities_of(fetch: &FetchNode, data: Option<Value>) -> Vec<Option<Value>> {
    match data {
        Some(Value::Object(mut map)) => match map.remove("_entities") {
            Some(mut entities @ Value::Array(_)) => {
                if fetch.renames {
                    crate::planner::rename_back(&mut entities);
                }
                match entities {
                    Value::Array(entities) => entities.into_iter().map(Some).collect(),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
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
        if let Some((name, representations)) = &self.representations {
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
                    // Entity fetches of one step that send the same operation to the same
                    // subgraph (the same entity reached along different paths) become one
                    // request, their representations de-duplicated across paths.
                    let mut batches: Vec<(&FetchNode, Vec<&[PathSegment]>)> = Vec::new();
                    let mut others: Vec<&PlanNode> = Vec::new();
                    for node in nodes {
                        match node {
                            PlanNode::Flatten { path, node } => match node.as_ref() {
                                PlanNode::Fetch(fetch) => {
                                    match batches.iter_mut().find(|(f, _)| f.same_request(fetch)) {
                                        Some((_, paths)) => paths.push(path),
                                        None => batches.push((fetch, vec![path])),
                                    }
                                }
                                _ => others.push(node),
                            },
                            other => others.push(other),
                        }
                    }
                    let batched = batches
                        .iter()
                        .map(|(fetch, paths)| self.entity_fetch(paths, fetch).boxed());
                    let rest = others.into_iter().map(|n| self.node(n));
                    join_all(batched.chain(rest)).await;
                }
                PlanNode::Flatten { path, node } => match node.as_ref() {
                    PlanNode::Fetch(fetch) => self.entity_fetch(&[path], fetch).await,
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

    async fn send(
        &self,
        fetch: &FetchNode,
        variables: Variables,
    ) -> Result<fetch::SubgraphResponse, FetchError> {
        let endpoint = &self.executor.endpoints[fetch.subgraph];
        let body: bytes::Bytes = sonic_rs::to_vec(&Body {
            query: &fetch.operation,
            variables,
        })
        .map(bytes::Bytes::from)
        .map_err(|e| FetchError::Request {
            service: endpoint.name.clone(),
            reason: e.to_string(),
        })?;
        let headers = self.request.headers.clone();
        let (status, bytes) = if self.executor.dedupe && fetch.kind.is_query() {
            self.executor
                .dedupe_post(fetch.subgraph, body, headers)
                .await?
        } else {
            self.executor
                .transport
                .post(endpoint, body, headers)
                .await?
        };
        fetch::parse(&endpoint.name, status, &bytes)
    }

    async fn root_fetch(&self, fetch: &FetchNode) {
        if !fetch.open(self.request.variables) {
            return;
        }
        let variables = Variables {
            client: self.variables(fetch),
            context: Vec::new(),
            representations: None,
        };
        match self.send(fetch, variables).await {
            Ok(response) => {
                if let Some(mut data) = response.data {
                    if fetch.renames {
                        crate::planner::rename_back(&mut data);
                    }
                    merge::merge(&mut self.lock_data(), data);
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
                self.push_errors([fetch_error(&e, &fetch.service_name, at.as_deref())]);
            }
        }
    }

    async fn entity_fetch(&self, paths: &[&[PathSegment]], fetch: &FetchNode) {
        if !fetch.open(self.request.variables) {
            return;
        }
        // Representations, de-duplicated, in parts: objects whose context values differ are
        // sent in requests of their own (one part when the fetch takes none). `order[p]`
        // gives, for each object at `paths[p]` in response order, the (part, representation)
        // standing for it.
        let mut parts: Vec<Part> = Vec::new();
        let mut order: Vec<Vec<Option<Slot>>> = Vec::with_capacity(paths.len());
        {
            let data = self.lock_data();
            let hasher = &self.executor.hasher;
            let hash = |value: &Value| {
                let mut h = hasher.build_hasher();
                merge::hash_value(value, &mut h);
                h.finish()
            };
            let mut seen: HashMap<u64, Vec<Slot>, ahash::RandomState> = HashMap::default();
            let mut part_by_context: HashMap<u64, Vec<usize>, ahash::RandomState> =
                HashMap::default();
            for path in paths {
                let mut slots = Vec::new();
                let mut ancestors = Vec::new();
                merge::for_each_object_under(&data, path, &mut ancestors, &mut |object, above| {
                    let Some(representation) = self.representation(fetch, object) else {
                        slots.push(None);
                        return;
                    };
                    let context = self.context_values(fetch, above);
                    let context_hash = hash(&Value::Array(context.clone()));
                    let same_context = part_by_context.entry(context_hash).or_default();
                    let part = match same_context.iter().find(|&&p| parts[p].context == context) {
                        Some(&p) => p,
                        None => {
                            parts.push(Part {
                                context,
                                representations: Vec::new(),
                            });
                            same_context.push(parts.len() - 1);
                            parts.len() - 1
                        }
                    };
                    let same = seen
                        .entry(hash(&representation) ^ context_hash)
                        .or_default();
                    let slot = match same
                        .iter()
                        .find(|&&(p, i)| p == part && parts[p].representations[i] == representation)
                    {
                        Some(&slot) => slot,
                        None => {
                            let representations = &mut parts[part].representations;
                            representations.push(representation);
                            let slot = (part, representations.len() - 1);
                            same.push(slot);
                            slot
                        }
                    };
                    slots.push(Some(slot));
                });
                order.push(slots);
            }
        }
        if parts.is_empty() {
            return;
        }
        let sizes: Vec<usize> = parts.iter().map(|p| p.representations.len()).collect();
        let sent = parts.into_iter().map(|part| {
            let variables = Variables {
                client: self.variables(fetch),
                context: fetch
                    .contexts
                    .iter()
                    .map(|c| c.variable.clone())
                    .zip(part.context)
                    .collect(),
                representations: Some((
                    fetch.representations_variable.clone(),
                    part.representations,
                )),
            };
            self.send(fetch, variables)
        });
        let responses = join_all(sent).await;
        let mut entities: Vec<Vec<Option<Value>>> = Vec::with_capacity(responses.len());
        let mut failed: Vec<(usize, FetchError)> = Vec::new();
        let mut errors: Vec<(usize, Vec<Value>)> = Vec::new();
        for (part, response) in responses.into_iter().enumerate() {
            match response {
                Ok(response) => {
                    entities.push(entities_of(fetch, response.data));
                    if !response.errors.is_empty() {
                        errors.push((part, response.errors));
                    }
                }
                Err(e) => {
                    entities.push(Vec::new());
                    failed.push((part, e));
                }
            }
        }
        // How many objects still wait for each entity: the last one takes it without a copy.
        let mut waiting: Vec<Vec<usize>> = entities.iter().map(|e| vec![0; e.len()]).collect();
        for &(p, i) in order.iter().flatten().flatten() {
            if let Some(w) = waiting.get_mut(p).and_then(|w| w.get_mut(i)) {
                *w += 1;
            }
        }
        {
            let mut data = self.lock_data();
            for (path, slots) in paths.iter().zip(&order) {
                let mut next = 0;
                merge::for_each_object_mut(&mut data, path, &mut |object| {
                    let slot = slots.get(next).copied().flatten();
                    next += 1;
                    let Some((p, i)) = slot else { return };
                    let Some(entity) = entities[p].get_mut(i) else {
                        return;
                    };
                    waiting[p][i] -= 1;
                    let value = if waiting[p][i] == 0 {
                        entity.take()
                    } else {
                        entity.clone()
                    };
                    if let Some(value) = value.filter(|v| !v.is_null()) {
                        merge::merge(object, value);
                    }
                });
            }
        }
        if failed.is_empty() && errors.is_empty() {
            return;
        }
        // Error paths need each object's concrete path; only now are they worth computing.
        let (targets, affected) = self.affected(paths, &order, &sizes);
        // The objects a part stands for, in response order when there is one part.
        let everyone = |part: usize| -> Vec<Vec<Step>> {
            if sizes.len() == 1 {
                affected.clone()
            } else {
                targets[part].iter().flatten().cloned().collect()
            }
        };
        for (part, e) in failed {
            // The failure is every object's of the part: one error at each object's path.
            let paths = everyone(part);
            let errors: Vec<Value> = if paths.is_empty() {
                vec![fetch_error(&e, &fetch.service_name, None)]
            } else {
                paths
                    .iter()
                    .map(|path| fetch_error(&e, &fetch.service_name, Some(path.as_slice())))
                    .collect()
            };
            self.push_errors(errors);
        }
        for (part, part_errors) in errors {
            let everyone: Vec<Vec<Value>> = everyone(part)
                .iter()
                .map(|p| p.iter().map(Step::to_json).collect())
                .collect();
            let errors: Vec<Value> = part_errors
                .into_iter()
                .flat_map(|error| {
                    subgraph_error(error, &fetch.service_name, |path| {
                        // `_entities.<i>.rest` → every object representation `i` stands for.
                        // An error the subgraph did not locate among the entities is every
                        // object's.
                        path.and_then(|path| entity_paths(path, &targets[part]))
                            .unwrap_or_else(|| everyone.clone())
                    })
                })
                .collect();
            self.push_errors(errors);
        }
    }

    /// The values of `fetch`'s context variables for an object under `above`, in the order
    /// of `fetch.contexts`: each read on the ancestor the plan names, null where that
    /// ancestor is missing or is not of a type that sets the context.
    fn context_values(&self, fetch: &FetchNode, above: &[&Value]) -> Vec<Value> {
        fetch
            .contexts
            .iter()
            .map(|context| {
                let Some(ancestor) = above
                    .len()
                    .checked_sub(context.up)
                    .and_then(|i| above.get(i))
                else {
                    return Value::Null;
                };
                let typename = ancestor.get("__typename").and_then(Value::as_str);
                let source = match typename {
                    Some(t) => context.sources.iter().find(|(on, _)| on == t),
                    None => context.sources.first(),
                };
                let Some((_, selection)) = source else {
                    return Value::Null;
                };
                match merge::project(self.request.graph, ancestor, selection) {
                    Some(Value::Object(fields)) => fields
                        .into_iter()
                        .find(|(k, _)| k.as_str() != "__typename")
                        .map(|(_, v)| v)
                        .unwrap_or(Value::Null),
                    _ => Value::Null,
                }
            })
            .collect()
    }

    /// The concrete paths of the objects an entity fetch stands for: by part and
    /// representation (`sizes[p]` representations in part `p`), and all of them in response
    /// order.
    fn affected(
        &self,
        paths: &[&[PathSegment]],
        order: &[Vec<Option<Slot>>],
        sizes: &[usize],
    ) -> (Vec<Vec<ObjectPaths>>, ObjectPaths) {
        let mut targets: Vec<Vec<ObjectPaths>> =
            sizes.iter().map(|&n| vec![Vec::new(); n]).collect();
        let mut all = Vec::new();
        let data = self.lock_data();
        for (path, slots) in paths.iter().zip(order) {
            for (object_path, slot) in merge::collect_paths(&data, path).into_iter().zip(slots) {
                let Some((p, i)) = slot else { continue };
                if let Some(t) = targets.get_mut(*p).and_then(|t| t.get_mut(*i)) {
                    t.push(object_path.clone());
                }
                all.push(object_path);
            }
        }
        (targets, all)
    }

    /// The representation of `object` for `fetch`, if it has one.
    fn representation(&self, fetch: &FetchNode, object: &Value) -> Option<Value> {
        let typename = object.get("__typename").and_then(Value::as_str);
        let rep = match typename {
            // An object whose concrete type an earlier fetch found still matches a
            // representation made for its interface (an `@interfaceObject`'s).
            Some(t) => fetch
                .requires
                .iter()
                .find(|r| r.match_types.iter().any(|m| m == t))
                .or_else(|| {
                    fetch.requires.iter().find(|r| {
                        r.match_types
                            .iter()
                            .any(|m| self.request.graph.possible_types(m).iter().any(|p| p == t))
                    })
                }),
            None => (fetch.requires.len() == 1).then(|| &fetch.requires[0]),
        }?;
        let Some(Value::Object(fields)) =
            merge::project(self.request.graph, object, &rep.selection)
        else {
            return None;
        };
        let mut representation = Map::with_capacity(fields.len() + 1);
        representation.push("__typename", Value::String(rep.typename.as_str().into()));
        for (k, v) in fields {
            if k.as_str() != "__typename" {
                representation.push(k, v);
            }
        }
        Some(Value::Object(representation))
    }
}
