//! Response keys of subgraph operations that are not the client's.
//!
//! Conflicts inside one subgraph operation: two fields under the same response key are fine
//! for the client when they sit in fragments on different types, but invalid for the subgraph
//! when its types for them differ (`id: ID!` on one type, `id: ID` on another). Such fields get
//! an alias ending in [`RENAME_MARK`], and the executor moves their values back to the key
//! they had before.
//!
//! Reserved keys: a client field whose response key could meet one the planner adds (a key
//! field, a required field, `__typename`, or a key shaped like the planner's own aliases) is
//! selected under [`reserved_key`] in subgraph operations, so the planner's fields and the
//! client's never share a key. The shaper writes the client's key.

use apollo_compiler::{Name, Schema};

use super::graph::{Graph, SubgraphId};
use super::operation::{Selection, SelectionSet};

/// Aliases carrying this mark are renamed back by the executor (`key__tessera_alias_<n>`).
pub const RENAME_MARK: &str = "__tessera_alias_";

/// A response key as the merged tree has it: without the rename mark and what follows it.
pub fn plain_key(key: &str) -> &str {
    key.split(RENAME_MARK).next().unwrap_or(key)
}

/// Required fields with arguments are aliased `<name>__req_<hash>` (see the graph).
pub const REQUIRES_MARK: &str = "__req_";

/// Every reserved key starts with this.
const RESERVED_PREFIX: &str = "_tessera_";

/// Whether `key` has the shape of a key the planner makes itself, so that a client field under
/// it must be selected under a reserved key instead.
pub fn is_internal(key: &str) -> bool {
    key.starts_with(RESERVED_PREFIX) || key.contains(RENAME_MARK) || key.contains(REQUIRES_MARK)
}

/// The key subgraph operations select a client field under when its own key is `key`:
/// `_tessera_<key>`, with each `_` of `key` written `_u`. Distinct keys give distinct reserved
/// keys, no reserved key is a client key that [`is_internal`] lets through, and every `_`
/// after the prefix is followed by `u`, so neither mark above can appear in one.
pub fn reserved_key(key: &str) -> Name {
    let mut out = String::with_capacity(RESERVED_PREFIX.len() + key.len() + 4);
    out.push_str(RESERVED_PREFIX);
    for c in key.chars() {
        out.push(c);
        if c == '_' {
            out.push('u');
        }
    }
    Name::new(&out).expect("a GraphQL name with a name-character prefix and suffix")
}

/// Aliases conflicting fields of `selection`; returns whether any was.
pub fn dealias(
    graph: &Graph,
    schema: &Schema,
    subgraph: SubgraphId,
    root_type: &str,
    is_entity: bool,
    selection: &mut SelectionSet,
) -> bool {
    let mut counter = 0;
    if is_entity {
        // `_entities` returns a union-like list: each fragment is on its own type.
        for item in &mut selection.0 {
            if let Selection::Fragment(fragment) = item {
                let on = fragment.on.clone();
                level(
                    graph,
                    schema,
                    subgraph,
                    &on,
                    &mut fragment.selection,
                    &mut counter,
                );
            }
        }
    } else {
        level(graph, schema, subgraph, root_type, selection, &mut counter);
    }
    counter > 0
}

/// The response keys met at one level of a subgraph operation, with the type each has there,
/// and, per key, the same for the level below it: fields sharing a key at one level share the
/// levels below too, where their children must agree as well (the spec's SameResponseShape).
#[derive(Default)]
struct Seen {
    keys: Vec<(Name, String)>,
    below: Vec<(Name, Seen)>,
}

impl Seen {
    fn below(&mut self, key: &Name) -> &mut Seen {
        let i = match self.below.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.below.push((key.clone(), Seen::default()));
                self.below.len() - 1
            }
        };
        &mut self.below[i].1
    }
}

/// One selection level (fields, and fields in its fragments), then each field's own level.
fn level(
    graph: &Graph,
    schema: &Schema,
    subgraph: SubgraphId,
    parent: &str,
    set: &mut SelectionSet,
    counter: &mut usize,
) {
    let mut seen = Seen::default();
    visit(graph, schema, subgraph, parent, set, &mut seen, counter);
}

fn visit(
    graph: &Graph,
    schema: &Schema,
    subgraph: SubgraphId,
    parent: &str,
    set: &mut SelectionSet,
    seen: &mut Seen,
    counter: &mut usize,
) {
    for item in &mut set.0 {
        match item {
            Selection::Field(field) => {
                let ty = graph
                    .field_type_text_in(subgraph, parent, &field.name)
                    .map(str::to_owned)
                    .or_else(|| {
                        schema
                            .type_field(parent, &field.name)
                            .ok()
                            .map(|f| f.ty.to_string())
                    })
                    .unwrap_or_default();
                let key = field.key().clone();
                match seen.keys.iter().find(|(k, _)| *k == key) {
                    Some((_, existing)) if *existing != ty => {
                        *counter += 1;
                        field.alias = Name::new(&format!("{key}{RENAME_MARK}{counter}")).ok();
                    }
                    Some(_) => {}
                    None => seen.keys.push((key, ty)),
                }
                if !field.selection.0.is_empty() {
                    let child = graph
                        .field_type_in(subgraph, parent, &field.name)
                        .map(|n| n.to_string())
                        .or_else(|| {
                            schema
                                .type_field(parent, &field.name)
                                .ok()
                                .map(|f| f.ty.inner_named_type().to_string())
                        })
                        .unwrap_or_default();
                    let below = seen.below(field.key());
                    visit(
                        graph,
                        schema,
                        subgraph,
                        &child,
                        &mut field.selection,
                        below,
                        counter,
                    );
                }
            }
            Selection::Fragment(fragment) => {
                let on = fragment.on.to_string();
                visit(
                    graph,
                    schema,
                    subgraph,
                    &on,
                    &mut fragment.selection,
                    seen,
                    counter,
                );
            }
        }
    }
}

/// Moves aliased values back to their client keys, everywhere in `value`.
pub fn rename_back(value: &mut crate::json::Value) {
    use crate::json::{Str, Value};
    match value {
        Value::Object(map) => {
            let marked: Vec<Str> = map
                .keys()
                .filter(|k| k.as_str().contains(RENAME_MARK))
                .cloned()
                .collect();
            for alias in marked {
                if let Some(v) = map.remove(alias.as_str()) {
                    let key = plain_key(alias.as_str());
                    // The client's key may hold the same field selected elsewhere (on the
                    // abstract type, say): both halves belong to one value.
                    match map.get_mut(key) {
                        Some(existing) => crate::executor::merge::merge(existing, v),
                        None => {
                            map.insert(key, v);
                        }
                    }
                }
            }
            for (_, v) in map.iter_mut() {
                rename_back(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rename_back),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::rename_back;

    #[test]
    fn a_renamed_field_merges_into_the_same_field_selected_under_its_key() {
        let mut value: crate::json::Value = sonic_rs::from_str(
            r#"{"p":{"next":{"id":"3","next":{"id":"1"}},"next__tessera_alias_1":{"id":"3","price":1.5}}}"#,
        )
        .expect("JSON");
        rename_back(&mut value);
        let expected: crate::json::Value =
            sonic_rs::from_str(r#"{"p":{"next":{"id":"3","next":{"id":"1"},"price":1.5}}}"#)
                .expect("JSON");
        assert_eq!(value, expected);
    }
}
