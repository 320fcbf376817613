//! Merging subgraph results into the response tree, and finding the objects a flattened fetch
//! works on.

use crate::json::{Map, Str, Value};

use crate::planner::operation::{Field, Selection, SelectionSet};
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

/// The fields of a selection of leaves only (no subselection, no fragment, no name twice), or
/// `None` for any other. A representation of such a selection is read off its object where
/// it stands: [`Flat`] hashes and compares it without building it, which is what most of an
/// entity fetch's objects need (they repeat entities already collected).
pub fn flat_fields(selection: &SelectionSet) -> Option<Vec<&Field>> {
    let mut fields: Vec<&Field> = Vec::with_capacity(selection.0.len());
    for item in &selection.0 {
        let Selection::Field(field) = item else {
            return None;
        };
        if !field.selection.0.is_empty() || fields.iter().any(|f| f.name == field.name) {
            return None;
        }
        fields.push(field);
    }
    Some(fields)
}

/// The representation `{"__typename": typename, <field>: <value>...}` of an object for a
/// selection of [`flat_fields`], not built: the object's values where they stand.
pub struct Flat<'a> {
    pub typename: &'a str,
    /// The representation's fields after `__typename`, in order.
    pub values: Vec<(&'a str, &'a Value)>,
}

impl<'a> Flat<'a> {
    /// `object`'s representation, or `None` when it lacks one of the fields (as
    /// [`project`] gives none).
    pub fn of(typename: &'a str, fields: &[&'a Field], object: &'a Value) -> Option<Self> {
        let Value::Object(map) = object else {
            return None;
        };
        let mut values = Vec::with_capacity(fields.len());
        for field in fields {
            let value = map.get(field.key().as_str())?;
            if field.name != "__typename" {
                values.push((field.name.as_str(), value));
            }
        }
        Some(Self { typename, values })
    }

    /// What [`hash_value`] gives for the built representation.
    pub fn hash_into(&self, hasher: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        (5u8, self.values.len() + 1).hash(hasher);
        "__typename".hash(hasher);
        (3u8, self.typename).hash(hasher);
        for (k, v) in &self.values {
            k.hash(hasher);
            hash_value(v, hasher);
        }
    }

    /// Whether `built` is this representation.
    pub fn is(&self, built: &Value) -> bool {
        let Value::Object(map) = built else {
            return false;
        };
        let mut entries = map.iter();
        map.len() == self.values.len() + 1
            && entries.next().is_some_and(|(k, v)| {
                k.as_str() == "__typename" && v.as_str() == Some(self.typename)
            })
            && entries
                .zip(&self.values)
                .all(|((k, v), (name, value))| k.as_str() == *name && v == *value)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use apollo_compiler::Name;
    use apollo_compiler::ast::Type;

    fn leaf(alias: Option<&str>, name: &str) -> Field {
        Field {
            alias: alias.map(|a| Name::new(a).expect("name")),
            client_key: None,
            name: Name::new(name).expect("name"),
            arguments: Vec::new(),
            ty: Type::Named(Name::new("String").expect("name")),
            conditions: Vec::new(),
            selection: SelectionSet::default(),
        }
    }

    fn json(text: &str) -> Value {
        sonic_rs::from_str(text).expect("json")
    }

    fn hashed(f: impl FnOnce(&mut ahash::AHasher)) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = ahash::RandomState::with_seeds(1, 2, 3, 4).build_hasher();
        f(&mut h);
        h.finish()
    }

    #[test]
    fn a_flat_representation_hashes_and_compares_as_the_one_built() {
        let selection = SelectionSet(vec![
            Selection::Field(leaf(None, "__typename")),
            Selection::Field(leaf(Some("k"), "upc")),
            Selection::Field(leaf(None, "sku")),
        ]);
        let fields = flat_fields(&selection).expect("flat");
        let object = json(r#"{"__typename":"Book","k":"1","sku":{"a":[2]},"title":"x"}"#);
        let built = json(r#"{"__typename":"Product","upc":"1","sku":{"a":[2]}}"#);
        let flat = Flat::of("Product", &fields, &object).expect("has the fields");
        assert_eq!(
            hashed(|h| flat.hash_into(h)),
            hashed(|h| hash_value(&built, h))
        );
        assert!(flat.is(&built));
        for other in [
            r#"{"__typename":"Product","upc":"2","sku":{"a":[2]}}"#,
            r#"{"__typename":"Item","upc":"1","sku":{"a":[2]}}"#,
            r#"{"__typename":"Product","sku":{"a":[2]},"upc":"1"}"#,
            r#"{"__typename":"Product","upc":"1"}"#,
        ] {
            assert!(!flat.is(&json(other)), "{other}");
        }
        assert!(Flat::of("Product", &fields, &json(r#"{"k":"1"}"#)).is_none());
        assert!(
            Flat::of(
                "Product",
                &fields,
                &json(r#"{"__typename":"Book","k":"1"}"#)
            )
            .is_none(),
            "a missing field, as project gives none"
        );

        // A `__typename` selected under an alias is read there and left out like any other.
        let aliased = SelectionSet(vec![
            Selection::Field(leaf(Some("t"), "__typename")),
            Selection::Field(leaf(None, "id")),
        ]);
        let fields = flat_fields(&aliased).expect("flat");
        let object = json(r#"{"t":"Book","id":7}"#);
        let flat = Flat::of("Book", &fields, &object).expect("has the fields");
        let built = json(r#"{"__typename":"Book","id":7}"#);
        assert!(flat.is(&built));
        assert_eq!(
            hashed(|h| flat.hash_into(h)),
            hashed(|h| hash_value(&built, h))
        );
        assert!(Flat::of("Book", &fields, &json(r#"{"id":7}"#)).is_none());
    }

    #[test]
    fn only_leaves_named_once_are_flat() {
        let mut nested = leaf(None, "owner");
        nested.selection = SelectionSet(vec![Selection::Field(leaf(None, "id"))]);
        assert!(flat_fields(&SelectionSet(vec![Selection::Field(nested)])).is_none());
        let twice = SelectionSet(vec![
            Selection::Field(leaf(None, "id")),
            Selection::Field(leaf(Some("other"), "id")),
        ]);
        assert!(flat_fields(&twice).is_none());
        let fragment = SelectionSet(vec![Selection::Fragment(
            crate::planner::operation::Fragment {
                on: Name::new("Book").expect("name"),
                selection: SelectionSet(vec![Selection::Field(leaf(None, "id"))]),
            },
        )]);
        assert!(flat_fields(&fragment).is_none());
    }
}
