//! Merging subgraph results into the response tree, and finding the objects a flattened fetch
//! works on.

use crate::json::{Map, Str, Value};

use crate::planner::operation::{Selection, SelectionSet};
use crate::planner::{Graph, PathSegment};

/// A concrete step in the response: a key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Step {
    Key(Str),
    Index(usize),
}

impl Step {
    pub fn to_json(&self) -> Value {
        match self {
            Step::Key(k) => Value::String(k.clone()),
            Step::Index(i) => Value::from(*i as u64),
        }
    }
}

/// Deep-merges `source` into `target`: objects field by field, lists item by item.
pub fn merge(target: &mut Value, source: Value) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(key.as_str()) {
                    Some(existing) => merge(existing, value),
                    None => target.push(key, value),
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (t, s) in target.iter_mut().zip(source) {
                merge(t, s);
            }
        }
        (_, Value::Null) => {}
        (target, source) => *target = source,
    }
}

/// Where `data` holds a null on the way to `path` (a subgraph's field error, or the null it
/// propagated to): the path of that null, keys without the planner's rename marks (as the
/// merged tree has them). `None` when `data` has a value at `path`, or does not reach it for
/// another reason (a key it left out).
pub fn null_on_the_way(data: &Value, path: &[Value]) -> Option<Vec<Value>> {
    let mut value = data;
    let mut out = Vec::with_capacity(path.len());
    for step in path {
        if value.is_null() {
            return Some(out);
        }
        value = match (value, step) {
            (Value::Object(map), Value::String(key)) => {
                let next = map.get(key.as_str())?;
                out.push(Value::String(crate::planner::plain_key(key).into()));
                next
            }
            (Value::Array(items), Value::Number(i)) => {
                let next = items.get(usize::try_from(i.as_u64()?).ok()?)?;
                out.push(step.clone());
                next
            }
            _ => return None,
        };
    }
    value.is_null().then_some(out)
}

/// Sets the value at `path` to null, when `data` has one there.
pub fn null_at(data: &mut Value, path: &[Value]) {
    let mut value = data;
    for step in path {
        value = match (value, step) {
            (Value::Object(map), Value::String(key)) => match map.get_mut(key.as_str()) {
                Some(v) => v,
                None => return,
            },
            (Value::Array(items), Value::Number(i)) => {
                match i
                    .as_u64()
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| items.get_mut(i))
                {
                    Some(v) => v,
                    None => return,
                }
            }
            _ => return,
        };
    }
    *value = Value::Null;
}

/// The concrete paths of the objects found at `path` (lists flattened, nulls skipped).
pub fn collect_paths(root: &Value, path: &[PathSegment]) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    walk(root, path, &mut current, &mut out);
    out
}

fn walk(value: &Value, path: &[PathSegment], current: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    let Some((first, rest)) = path.split_first() else {
        if value.is_object() {
            out.push(current.clone());
        }
        return;
    };
    match (first, value) {
        (PathSegment::Key(key), Value::Object(map)) => {
            if let Some(child) = map.get(key.as_str()) {
                current.push(Step::Key(Str::from(key.as_str())));
                walk(child, rest, current, out);
                current.pop();
            }
        }
        (PathSegment::List, Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                current.push(Step::Index(i));
                walk(item, rest, current, out);
                current.pop();
            }
        }
        _ => {}
    }
}

/// Projects `object` through `selection` into a representation: response keys become field
/// names. `None` when a selected field is missing (the object cannot be represented).
pub fn project(graph: &Graph, object: &Value, selection: &SelectionSet) -> Option<Value> {
    let Value::Object(map) = object else {
        return match object {
            Value::Null => Some(Value::Null),
            Value::Array(items) => items
                .iter()
                .map(|item| project(graph, item, selection))
                .collect::<Option<Vec<_>>>()
                .map(Value::Array),
            other => Some(other.clone()),
        };
    };
    let typename = map.get("__typename").and_then(Value::as_str);
    let mut out = Map::new();
    project_into(graph, map, typename, selection, &mut out)?;
    Some(Value::Object(out))
}

fn project_into(
    graph: &Graph,
    map: &Map,
    typename: Option<&str>,
    selection: &SelectionSet,
    out: &mut Map,
) -> Option<()> {
    for item in &selection.0 {
        match item {
            Selection::Field(field) => {
                let value = map.get(field.key().as_str())?;
                let value = if field.selection.0.is_empty() {
                    value.clone()
                } else {
                    project(graph, value, &field.selection)?
                };
                match out.get_mut(field.name.as_str()) {
                    Some(existing) => merge(existing, value),
                    None => {
                        out.insert(Str::from(field.name.as_str()), value);
                    }
                }
            }
            Selection::Fragment(fragment) => {
                let applies = typename.is_none_or(|t| {
                    t == fragment.on.as_str()
                        || graph.possible_types(&fragment.on).iter().any(|p| p == t)
                });
                if applies {
                    project_into(graph, map, typename, &fragment.selection, out)?;
                }
            }
        }
    }
    Some(())
}

/// Calls `f` with each object found at `path`, in response order (lists flattened, nulls
/// skipped).
pub fn for_each_object<'v>(value: &'v Value, path: &[PathSegment], f: &mut impl FnMut(&'v Value)) {
    match path.split_first() {
        None => {
            if value.is_object() {
                f(value);
            }
        }
        Some((PathSegment::Key(key), rest)) => {
            if let Value::Object(map) = value
                && let Some(child) = map.get(key.as_str())
            {
                for_each_object(child, rest, f);
            }
        }
        Some((PathSegment::List, rest)) => {
            if let Value::Array(items) = value {
                for item in items {
                    for_each_object(item, rest, f);
                }
            }
        }
    }
}

/// [`for_each_object`], with the objects each one sits under: `ancestors` holds, outermost
/// first, every object a key of `path` was read from on the way to it.
pub fn for_each_object_under<'v>(
    value: &'v Value,
    path: &[PathSegment],
    ancestors: &mut Vec<&'v Value>,
    f: &mut impl FnMut(&'v Value, &[&'v Value]),
) {
    match path.split_first() {
        None => {
            if value.is_object() {
                f(value, ancestors);
            }
        }
        Some((PathSegment::Key(key), rest)) => {
            if let Value::Object(map) = value
                && let Some(child) = map.get(key.as_str())
            {
                ancestors.push(value);
                for_each_object_under(child, rest, ancestors, f);
                ancestors.pop();
            }
        }
        Some((PathSegment::List, rest)) => {
            if let Value::Array(items) = value {
                for item in items {
                    for_each_object_under(item, rest, ancestors, f);
                }
            }
        }
    }
}

/// [`for_each_object`], mutably: the same objects in the same order.
pub fn for_each_object_mut(
    value: &mut Value,
    path: &[PathSegment],
    f: &mut impl FnMut(&mut Value),
) {
    match path.split_first() {
        None => {
            if value.is_object() {
                f(value);
            }
        }
        Some((PathSegment::Key(key), rest)) => {
            if let Value::Object(map) = value
                && let Some(child) = map.get_mut(key.as_str())
            {
                for_each_object_mut(child, rest, f);
            }
        }
        Some((PathSegment::List, rest)) => {
            if let Value::Array(items) = value {
                for item in items {
                    for_each_object_mut(item, rest, f);
                }
            }
        }
    }
}

/// Feeds `value` to `hasher` (object keys in order), for de-duplicating representations.
pub fn hash_value(value: &Value, hasher: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match value {
        Value::Null => 0u8.hash(hasher),
        Value::Bool(b) => (1u8, *b).hash(hasher),
        Value::Number(n) => {
            2u8.hash(hasher);
            match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => i.hash(hasher),
                (_, Some(u), _) => u.hash(hasher),
                (_, _, Some(f)) => f.to_bits().hash(hasher),
                _ => {}
            }
        }
        Value::String(s) => (3u8, s.as_str()).hash(hasher),
        Value::Array(items) => {
            (4u8, items.len()).hash(hasher);
            items.iter().for_each(|i| hash_value(i, hasher));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(hasher);
            for (k, v) in map.iter() {
                k.as_str().hash(hasher);
                hash_value(v, hasher);
            }
        }
    }
}
