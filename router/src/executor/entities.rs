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

use super::errors::{entity_paths, fetch_error, subgraph_error};
use super::merge::{self, Step};
use super::{FetchError, Run, Variables};
use crate::json::{Map, Value};
use crate::planner::{FetchNode, PathSegment};

/// One entity fetch of a step, with the paths it runs at.
pub(super) type Unit<'a> = (&'a FetchNode, Vec<&'a [PathSegment]>);

/// The concrete response paths of some objects.
type ObjectPaths = Vec<Vec<Step>>;

/// (part, representation) of an object in an entity fetch.
type Slot = (usize, usize);

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
}

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
        if calls.is_empty() {
            return;
        }
        let mut collected = collected;
        let outcomes = if let [(u, p)] = calls[..] {
            let fetch = units[u].0;
            let part = collected[u]
                .as_mut()
                .map(|c| std::mem::take(&mut c.parts[p]))
                .unwrap_or_default();
            vec![self.single_call(fetch, part).await]
        } else {
            self.combined_call(units, &mut collected, &calls).await
        };
        // Back to each unit, in the order of its parts.
        let mut outcomes = outcomes.into_iter();
        for ((fetch, paths), collected) in units.iter().zip(collected) {
            let Some(collected) = collected else { continue };
            let mine: Vec<Outcome> = outcomes.by_ref().take(collected.parts.len()).collect();
            self.apply(fetch, paths, &collected.order, mine);
        }
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
        for path in paths {
            let mut slots = Vec::new();
            let mut ancestors = Vec::new();
            merge::for_each_object_under(&data, path, &mut ancestors, &mut |object, above| {
                let Some(representation) = self.representation(fetch, object) else {
                    slots.push(None);
                    return;
                };
                // Without context variables every object is in the one part: no lookup.
                let (part, context_hash) = if fetch.contexts.is_empty() {
                    if parts.is_empty() {
                        parts.push(Part::default());
                    }
                    (0, 0)
                } else {
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
                    (part, context_hash)
                };
                let same = seen
                    .entry(hash(&representation) ^ context_hash)
                    .or_default();
                let found = same
                    .iter()
                    .find(|&&(p, i)| p == part && parts[p].representations[i] == representation)
                    .copied();
                let slot = match found {
                    Some(slot) => slot,
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
        (!parts.is_empty()).then_some(Collected { parts, order })
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
    /// its own representations and context variables.
    async fn combined_call(
        &self,
        units: &[Unit<'_>],
        collected: &mut [Option<Collected>],
        calls: &[(usize, usize)],
    ) -> Vec<Outcome> {
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
        for (k, &(u, p)) in calls.iter().enumerate() {
            let fetch = units[u].0;
            let part = collected[u]
                .as_mut()
                .map(|c| std::mem::take(&mut c.parts[p]))
                .unwrap_or_default();
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
            Err(e) => return calls.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut data = match response.data {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let mut errors: Vec<Vec<Value>> = vec![Vec::new(); calls.len()];
        for error in response.errors {
            // `_k.<i>.rest` is call k's `_entities.<i>.rest`; an error outside the calls is
            // every call's.
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
                None => {
                    for list in &mut errors {
                        list.push(error.clone());
                    }
                }
            }
        }
        calls
            .iter()
            .zip(errors)
            .enumerate()
            .map(|(k, (&(u, _), errors))| {
                let entities = entities_of(units[u].0, data.remove(&format!("_{k}")));
                Ok((entities, errors))
            })
            .collect()
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
        let sizes: Vec<usize> = {
            let mut sizes = vec![0usize; outcomes.len()];
            for &(p, i) in order.iter().flatten().flatten() {
                if let Some(n) = sizes.get_mut(p) {
                    *n = (*n).max(i + 1);
                }
            }
            sizes
        };
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
