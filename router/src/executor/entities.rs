//! Entity fetches: the representations of the objects at each fetch's paths (de-duplicated,
//! and split by the values of its context variables), sent to the subgraph, and the entities
//! merged back into those objects.
//!
//! The entity fetches of one plan step that go to one subgraph share one request: each call
//! (a fetch, or one set of context values of a fetch) is an aliased `_entities` field of its
//! own, so however many fetches and paths a step has, a subgraph sees one request (ADR 0024).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use apollo_compiler::Name;

use futures::{StreamExt as _, stream};

use super::errors::{entity_paths, error_value, fetch_error, subgraph_error};
use super::merge::{self, Step};
use super::{FetchError, Run, Variables};
use crate::json::{Map, Value};
use crate::planner::plan::Representation;
use crate::planner::{FetchNode, PathSegment};

/// One entity fetch of a step, with the paths it runs at.
pub(super) type Unit<'a> = (&'a FetchNode, Vec<&'a [PathSegment]>);

/// The concrete response paths of some objects.
type ObjectPaths = Vec<Vec<Step>>;

/// (part, representation) of an object in an entity fetch.
type Slot = (usize, usize);

/// An object's representation while it is collected: read where the object stands (a flat
/// one), or built.
enum Candidate<'a> {
    Flat(merge::Flat<'a>),
    Built(Value),
}

impl Candidate<'_> {
    fn hash(&self, hasher: &ahash::RandomState) -> u64 {
        let mut h = hasher.build_hasher();
        match self {
            Candidate::Flat(flat) => flat.hash_into(&mut h),
            Candidate::Built(built) => merge::hash_value(built, &mut h),
        }
        h.finish()
    }

    /// Whether `stored` is this representation.
    fn is(&self, stored: &Value) -> bool {
        match self {
            Candidate::Flat(flat) => flat.is(stored),
            Candidate::Built(built) => stored == built,
        }
    }
}

/// The objects of an entity fetch that share their context values: one `_entities` call.
#[derive(Default)]
struct Part {
    context: Vec<Value>,
    representations: Vec<Value>,
}

/// What a fetch will send: its parts, and for each object at `paths[p]` in response order,
/// the (part, representation) standing for it.
struct Collected {
    parts: Vec<Part>,
    order: Vec<Vec<Option<Slot>>>,
    /// (path, object) of the objects left out because a context value a non-null argument
    /// takes is null: sent, they would fail the whole request.
    missing: Vec<(usize, usize)>,
}

/// The most `_entities` calls one request holds; a step with more is sent as several
/// requests, in parallel.
const MAX_CALLS_PER_REQUEST: usize = 32;

/// How many of a step's requests to one subgraph are in flight at once.
const MAX_REQUESTS_IN_FLIGHT: usize = 4;

/// One request's calls, (unit, part) each, and the parts they send.
type Request<'c> = (&'c [(usize, usize)], Vec<Part>);

/// What one `_entities` call gave: its entities, and the errors the subgraph raised for it.
type Outcome = Result<(Vec<Option<Value>>, Vec<Value>), FetchError>;

impl Run<'_> {
    /// Runs `units`, entity fetches to one subgraph, in one request.
    pub(super) async fn entity_batch(&self, units: &[Unit<'_>]) {
        let collected: Vec<Option<Collected>> = units
            .iter()
            .map(|(fetch, paths)| self.collect(fetch, paths))
            .collect();
        // The calls: (unit, part).
        let calls: Vec<(usize, usize)> = collected
            .iter()
            .enumerate()
            .flat_map(|(u, c)| {
                let parts = c.as_ref().map_or(0, |c| c.parts.len());
                (0..parts).map(move |p| (u, p))
            })
            .collect();
        self.report_missing(units, &collected);
        if calls.is_empty() {
            return;
        }
        let mut collected = collected;
        let mut take = |(u, p): (usize, usize)| {
            collected[u]
                .as_mut()
                .map(|c| std::mem::take(&mut c.parts[p]))
                .unwrap_or_default()
        };
        let mut outcomes = Vec::with_capacity(calls.len());
        let mut unlocated = Vec::new();
        if let [call] = calls[..] {
            // The usual step: one call, the fetch's own operation.
            let part = take(call);
            outcomes.push(self.single_call(units[call.0].0, part).await);
        } else {
            // Each request's calls, and the parts they send; a bounded number in flight, so
            // that many distinct context values are many requests, not that many at once.
            let requests: Vec<Request<'_>> = calls
                .chunks(MAX_CALLS_PER_REQUEST)
                .map(|chunk| (chunk, chunk.iter().map(|&call| take(call)).collect()))
                .collect();
            let sends: Vec<_> = requests
                .into_iter()
                .map(|(chunk, mut parts)| async move {
                    let answer = match (chunk, parts.len()) {
                        ([(u, _)], 1) => {
                            let part = parts.pop().unwrap_or_default();
                            (vec![self.single_call(units[*u].0, part).await], Vec::new())
                        }
                        _ => self.combined_call(units, chunk, parts).await,
                    };
                    (chunk, answer)
                })
                .collect();
            let answers: Vec<_> = stream::iter(sends)
                .buffered(MAX_REQUESTS_IN_FLIGHT)
                .collect()
                .await;
            for (chunk, (chunk_outcomes, chunk_unlocated)) in answers {
                outcomes.extend(chunk_outcomes);
                if !chunk_unlocated.is_empty() {
                    unlocated.push((chunk, chunk_unlocated));
                }
            }
        }
        // Back to each unit, in the order of its parts.
        let mut outcomes = outcomes.into_iter();
        for ((fetch, paths), collected) in units.iter().zip(&collected) {
            let Some(collected) = collected else { continue };
            let mine: Vec<Outcome> = outcomes.by_ref().take(collected.parts.len()).collect();
            self.apply(fetch, paths, &collected.order, mine);
        }
        for (chunk, errors) in unlocated {
            self.report_unlocated(units, &collected, chunk, errors);
        }
    }

    /// The errors a combined request raised outside every call: once at each object one of
    /// its `calls` stood for (an object several calls stood for gets one copy).
    fn report_unlocated(
        &self,
        units: &[Unit<'_>],
        collected: &[Option<Collected>],
        calls: &[(usize, usize)],
        errors: Vec<Value>,
    ) {
        let mut objects: Vec<Vec<Value>> = Vec::new();
        let mut seen: std::collections::HashSet<Vec<Step>, ahash::RandomState> = Default::default();
        for (u, ((_, paths), collected)) in units.iter().zip(collected).enumerate() {
            let Some(collected) = collected else { continue };
            let sizes = part_sizes(&collected.order, collected.parts.len());
            let (targets, _) = self.affected(paths, &collected.order, &sizes);
            for (p, part) in targets.into_iter().enumerate() {
                if !calls.contains(&(u, p)) {
                    continue;
                }
                for path in part.into_iter().flatten() {
                    let json = path.iter().map(Step::to_json).collect();
                    if seen.insert(path) {
                        objects.push(json);
                    }
                }
            }
        }
        let service = &units[0].0.service_name;
        let errors: Vec<Value> = errors
            .into_iter()
            .flat_map(|error| subgraph_error(error, service, |_| objects.clone()))
            .collect();
        self.push_errors(errors);
    }

    /// The objects left out of their fetch for a null context value a non-null argument
    /// takes: their entity fields stay unresolved, with an error at each object.
    fn report_missing(&self, units: &[Unit<'_>], collected: &[Option<Collected>]) {
        let mut errors = Vec::new();
        for ((fetch, paths), collected) in units.iter().zip(collected) {
            let Some(collected) = collected.as_ref().filter(|c| !c.missing.is_empty()) else {
                continue;
            };
            let data = self.lock_data();
            let concrete: Vec<Vec<Vec<Step>>> = paths
                .iter()
                .map(|path| merge::collect_paths(&data, path))
                .collect();
            drop(data);
            for &(p, o) in &collected.missing {
                let at = concrete.get(p).and_then(|objects| objects.get(o));
                errors.push(error_value(
                    "a value a field of this object reads from an object above it \
                     (@fromContext) is null, and the argument taking it is non-null",
                    "CONTEXT_VALUE_MISSING",
                    Some(&fetch.service_name),
                    at.map(Vec::as_slice),
                ));
            }
        }
        self.push_errors(errors);
    }

    /// The representations `fetch` sends for the objects at `paths`, or `None` when it sends
    /// nothing (its conditions do not hold, or no object is there).
    fn collect(&self, fetch: &FetchNode, paths: &[&[PathSegment]]) -> Option<Collected> {
        if !fetch.open(self.request.variables) {
            return None;
        }
        let mut parts: Vec<Part> = Vec::new();
        let mut order: Vec<Vec<Option<Slot>>> = Vec::with_capacity(paths.len());
        let data = self.lock_data();
        let hasher = &self.executor.hasher;
        let hash = |value: &Value| {
            let mut h = hasher.build_hasher();
            merge::hash_value(value, &mut h);
            h.finish()
        };
        let mut seen: HashMap<u64, Vec<Slot>, ahash::RandomState> = HashMap::default();
        let mut part_by_context: HashMap<u64, Vec<usize>, ahash::RandomState> = HashMap::default();
        let mut missing = Vec::new();
        let flat: Vec<Option<Vec<&crate::planner::operation::Field>>> = fetch
            .requires
            .iter()
            .map(|r| merge::flat_fields(&r.selection))
            .collect();
        for (p, path) in paths.iter().enumerate() {
            let mut slots = Vec::new();
            let mut ancestors = Vec::new();
            merge::for_each_object_under(&data, path, &mut ancestors, &mut |object, above| {
                let Some(r) = self.requirement(fetch, object) else {
                    slots.push(None);
                    return;
                };
                let rep = &fetch.requires[r];
                // A flat representation is hashed and compared where the object stands, and
                // built only when it is new.
                let flat = flat[r]
                    .as_deref()
                    .map(|fields| merge::Flat::of(rep.typename.as_str(), fields, object));
                let candidate = match flat {
                    Some(Some(flat)) => Candidate::Flat(flat),
                    Some(None) => {
                        slots.push(None);
                        return;
                    }
                    None => match self.build(rep, object) {
                        Some(built) => Candidate::Built(built),
                        None => {
                            slots.push(None);
                            return;
                        }
                    },
                };
                // Without context variables every object is in the one part: no lookup.
                let (part, context_hash) = if fetch.contexts.is_empty() {
                    if parts.is_empty() {
                        parts.push(Part::default());
                    }
                    (0, 0)
                } else {
                    let context = self.context_values(fetch, above);
                    let unset = context
                        .iter()
                        .zip(&fetch.contexts)
                        .any(|(value, c)| value.is_null() && c.ty.ends_with('!'));
                    if unset {
                        missing.push((p, slots.len()));
                        slots.push(None);
                        return;
                    }
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
                    (part, context_hash)
                };
                let same = seen
                    .entry(candidate.hash(hasher) ^ context_hash)
                    .or_default();
                let found = same
                    .iter()
                    .find(|&&(p, i)| p == part && candidate.is(&parts[p].representations[i]))
                    .copied();
                let slot = match found {
                    Some(slot) => slot,
                    None => {
                        let built = match candidate {
                            Candidate::Built(built) => Some(built),
                            Candidate::Flat(_) => self.build(rep, object),
                        };
                        let Some(representation) = built else {
                            slots.push(None);
                            return;
                        };
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
        (!parts.is_empty() || !missing.is_empty()).then_some(Collected {
            parts,
            order,
            missing,
        })
    }

    /// One `_entities` call alone: the fetch's own operation.
    async fn single_call(&self, fetch: &FetchNode, part: Part) -> Outcome {
        let variables = Variables {
            client: self.variables(fetch),
            context: fetch
                .contexts
                .iter()
                .map(|c| c.variable.clone())
                .zip(part.context)
                .collect(),
            representations: vec![(fetch.representations_variable.clone(), part.representations)],
        };
        let response = self
            .send(fetch.subgraph, fetch.kind, &fetch.operation, variables)
            .await?;
        let entities = match response.data {
            Some(Value::Object(mut map)) => entities_of(fetch, map.remove("_entities")),
            _ => Vec::new(),
        };
        Ok((entities, response.errors))
    }

    /// Several `_entities` calls in one request, each under an alias (`_0`, `_1`, ...) with
    /// its own representations and context variables: `calls[k]` is (unit, part) and sends
    /// `parts[k]`. Gives each call's outcome, and the errors the subgraph raised outside
    /// every call.
    async fn combined_call(
        &self,
        units: &[Unit<'_>],
        calls: &[(usize, usize)],
        parts: Vec<Part>,
    ) -> (Vec<Outcome>, Vec<Value>) {
        let first = units[calls[0].0].0;
        let taken: Vec<&str> = units
            .iter()
            .flat_map(|(fetch, _)| fetch.definitions.iter())
            .filter_map(|d| d.strip_prefix('$').and_then(|d| d.split(':').next()))
            .collect();
        let base = representations_base(&taken);
        let mut definitions: Vec<String> = Vec::new();
        let mut declared: std::collections::HashSet<String, ahash::RandomState> =
            Default::default();
        let mut body = String::new();
        let mut variables = Variables {
            client: Default::default(),
            context: Vec::new(),
            representations: Vec::new(),
        };
        for (k, (&(u, _), part)) in calls.iter().zip(parts).enumerate() {
            let fetch = units[u].0;
            let representations = Name::new(&format!("{base}{k}")).expect("a GraphQL name");
            definitions.push(format!("${representations}:[_Any!]!"));
            declared.insert(definitions[definitions.len() - 1].clone());
            // A fetch's context variables are renamed per call: its parts differ in them.
            let renamed: Vec<(Name, Name)> = fetch
                .contexts
                .iter()
                .map(|c| {
                    let name = Name::new(&format!("{}_{k}", c.variable)).expect("a GraphQL name");
                    (c.variable.clone(), name)
                })
                .collect();
            for definition in &fetch.definitions {
                let definition = rename_variables(definition, &renamed);
                if declared.insert(definition.clone()) {
                    definitions.push(definition);
                }
            }
            if k > 0 {
                body.push(' ');
            }
            let _ = write!(
                body,
                "_{k}:_entities(representations:${representations}){}",
                rename_variables(&fetch.entity_selection, &renamed)
            );
            for (name, value) in self.variables(fetch) {
                variables.client.insert(name, value);
            }
            variables
                .context
                .extend(renamed.into_iter().map(|(_, new)| new).zip(part.context));
            variables
                .representations
                .push((representations, part.representations));
        }
        let mut text = String::from("query");
        if let Some(name) = &first.operation_name {
            text.push(' ');
            text.push_str(name);
        }
        let _ = write!(text, "({}){{{body}}}", definitions.join(","));
        let response = match self
            .send(first.subgraph, first.kind, &text, variables)
            .await
        {
            Ok(response) => response,
            Err(e) => return (calls.iter().map(|_| Err(e.clone())).collect(), Vec::new()),
        };
        let mut data = match response.data {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut errors: Vec<Vec<Value>> = vec![Vec::new(); calls.len()];
        let mut unlocated = Vec::new();
        for error in response.errors {
            // `_k.<i>.rest` is call k's `_entities.<i>.rest`; an error outside the calls is
            // the request's.
            let call = error
                .get("path")
                .and_then(|p| match p {
                    Value::Array(path) => path.first(),
                    _ => None,
                })
                .and_then(Value::as_str)
                .and_then(|first| first.strip_prefix('_'))
                .and_then(|k| k.parse::<usize>().ok())
                .filter(|&k| k < calls.len());
            match call {
                Some(k) => {
                    let mut error = error;
                    if let Value::Object(map) = &mut error
                        && let Some(Value::Array(path)) = map.get_mut("path")
                        && let Some(first) = path.first_mut()
                    {
                        *first = Value::String("_entities".into());
                    }
                    errors[k].push(error);
                }
                None => unlocated.push(error),
            }
        }
        let outcomes = calls
            .iter()
            .zip(errors)
            .enumerate()
            .map(|(k, (&(u, _), errors))| {
                let entities = entities_of(units[u].0, data.remove(&format!("_{k}")));
                Ok((entities, errors))
            })
            .collect();
        (outcomes, unlocated)
    }

    /// Merges what the calls of `fetch` gave into the objects at `paths`, and reports their
    /// errors at those objects.
    fn apply(
        &self,
        fetch: &FetchNode,
        paths: &[&[PathSegment]],
        order: &[Vec<Option<Slot>>],
        outcomes: Vec<Outcome>,
    ) {
        let sizes = part_sizes(order, outcomes.len());
        let mut entities: Vec<Vec<Option<Value>>> = Vec::with_capacity(outcomes.len());
        let mut failed: Vec<(usize, FetchError)> = Vec::new();
        let mut errors: Vec<(usize, Vec<Value>)> = Vec::new();
        for (part, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok((part_entities, part_errors)) => {
                    entities.push(part_entities);
                    if !part_errors.is_empty() {
                        errors.push((part, part_errors));
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
            for (path, slots) in paths.iter().zip(order) {
                let mut next = 0;
                merge::for_each_object_mut(&mut data, path, &mut |object| {
                    let slot = slots.get(next).copied().flatten();
                    next += 1;
                    let Some((p, i)) = slot else { return };
                    let Some(entity) = entities.get_mut(p).and_then(|e| e.get_mut(i)) else {
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
        let (targets, affected) = self.affected(paths, order, &sizes);
        // The objects a part stands for, in response order when there is one part.
        let everyone = |part: usize| -> ObjectPaths {
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
    /// of `fetch.contexts`: each read on the nearest ancestor the plan names whose concrete
    /// type sets the context, null where there is none.
    fn context_values(&self, fetch: &FetchNode, above: &[&Value]) -> Vec<Value> {
        fetch
            .contexts
            .iter()
            .map(|context| {
                for tier in &context.from {
                    let Some(ancestor) =
                        above.len().checked_sub(tier.up).and_then(|i| above.get(i))
                    else {
                        continue;
                    };
                    let typename = ancestor.get("__typename").and_then(Value::as_str);
                    let source = match typename {
                        Some(t) => tier.sources.iter().find(|(on, _)| on == t),
                        None => tier.sources.first(),
                    };
                    let Some((_, selection)) = source else {
                        // An object type that does not set the context: the ancestor above
                        // may. Any other name (an interface object's) says nothing: null.
                        if typename.is_some_and(|t| !self.request.graph.is_abstract(t)) {
                            continue;
                        }
                        return Value::Null;
                    };
                    return match merge::project(self.request.graph, ancestor, selection) {
                        Some(Value::Object(fields)) => fields
                            .into_iter()
                            .find(|(k, _)| k.as_str() != "__typename")
                            .map(|(_, v)| v)
                            .unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                }
                Value::Null
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

    /// Which of `fetch`'s representations `object` takes (by its `__typename`).
    fn requirement(&self, fetch: &FetchNode, object: &Value) -> Option<usize> {
        let typename = object.get("__typename").and_then(Value::as_str);
        match typename {
            // An object whose concrete type an earlier fetch found still matches a
            // representation made for its interface (an `@interfaceObject`'s).
            Some(t) => fetch
                .requires
                .iter()
                .position(|r| r.match_types.iter().any(|m| m == t))
                .or_else(|| {
                    fetch.requires.iter().position(|r| {
                        r.match_types
                            .iter()
                            .any(|m| self.request.graph.possible_types(m).iter().any(|p| p == t))
                    })
                }),
            None => (fetch.requires.len() == 1).then_some(0),
        }
    }

    /// `object`'s representation as `rep` says, if it has the fields.
    fn build(&self, rep: &Representation, object: &Value) -> Option<Value> {
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

/// How many representations each of `parts` parts has, read off the slots of its objects.
fn part_sizes(order: &[Vec<Option<Slot>>], parts: usize) -> Vec<usize> {
    let mut sizes = vec![0usize; parts];
    for &(p, i) in order.iter().flatten().flatten() {
        if let Some(n) = sizes.get_mut(p) {
            *n = (*n).max(i + 1);
        }
    }
    sizes
}

/// An `_entities` list, with renamed fields moved back.
fn entities_of(fetch: &FetchNode, entities: Option<Value>) -> Vec<Option<Value>> {
    match entities {
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
    }
}

/// A prefix for the representations variables of a combined request (`<prefix><k>`) that
/// starts none of the names in `taken`.
fn representations_base(taken: &[&str]) -> String {
    let mut base = String::from("representations_");
    while taken.iter().any(|t| t.starts_with(base.as_str())) {
        base.push('_');
    }
    base
}

/// `text` with each variable `$old` of `renamed` written `$new` (whole names only).
fn rename_variables(text: &str, renamed: &[(Name, Name)]) -> String {
    if renamed.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8 * renamed.len());
    let mut rest = text;
    // `$` inside a string value is text, not a variable.
    let outside_strings = |text: &str| -> Option<usize> {
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                '$' if !quoted => return Some(i),
                _ => {}
            }
        }
        None
    };
    while let Some(at) = outside_strings(rest) {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..end];
        match renamed.iter().find(|(old, _)| old.as_str() == name) {
            Some((_, new)) => out.push_str(new),
            None => out.push_str(name),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_renamed_by_whole_names() {
        let renamed = vec![(Name::new_unchecked("ctx_1"), Name::new_unchecked("ctx_1_0"))];
        assert_eq!(
            rename_variables("{a(x:$ctx_1,y:$ctx_10) b(z:$ctx_1)}", &renamed),
            "{a(x:$ctx_1_0,y:$ctx_10) b(z:$ctx_1_0)}"
        );
        assert_eq!(
            rename_variables("$ctx_1:String", &renamed),
            "$ctx_1_0:String"
        );
    }

    #[test]
    fn the_representations_prefix_avoids_the_clients_names() {
        assert_eq!(representations_base(&["id", "first"]), "representations_");
        assert_eq!(
            representations_base(&["representations_0"]),
            "representations__"
        );
    }
}
