//! Shaping the merged subgraph data into the client's response, written straight to JSON text
//! as GraphQL execution would produce it: fields in selection order under their response
//! keys, fragments applied by concrete type, `__typename` answered, leaf values checked
//! against the API schema. A null in a non-null position propagates to the nearest nullable
//! parent by rewinding the output to where that parent started and writing `null` there.
//!
//! Leaf values are coerced as GraphQL execution would: Int is a whole number in the signed
//! 32-bit range, Float any number, String a string, Boolean a boolean, ID a string or a whole
//! number; enums must be values of their enum; custom scalars pass through as they are. A
//! value of the wrong kind is a field error at its path, and null there.
//!
//! Every null is reported once, where the router finds it: a non-null position left null, a
//! list or object position holding something else. The router's error is left out only when
//! an error already in the response explains that null, that is one whose path is the
//! position, lies below it (the subgraph's own error at the field, or under it when the
//! subgraph propagated the null itself) or above it (a fetch that failed for the object
//! holding the field). An error without a path names no position, so it
//! explains none: a failed fetch reported without a path still leaves the router to say which
//! fields it left null. A field withheld from the caller is explained by its authorization
//! error. Values the router itself refuses (a wrong leaf, an unknown type) are always
//! reported. Only the first null of a propagation is an error; the parents it nulls on its way
//! up are not.
//!
//! This runs once per object of every response, so what depends only on the operation (which
//! fields apply to a type, their types and keys) is worked out once per request and type.

use std::collections::HashMap;
use std::io::Write as _;
use std::rc::Rc;

use apollo_compiler::ast::Type;
use apollo_compiler::response::JsonMap;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use super::leaf::{self, Scalar};
use crate::json::{Map, Value};
use crate::planner::Graph;
use crate::planner::operation::{Field, Operation, Selection, SelectionSet};

/// A null that must move up to the parent (the position was non-null).
struct Bubble;

/// A step of an error's path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    Key(Box<str>),
    Index(u64),
}

/// The paths of the errors a response had before shaping.
#[derive(Debug, Default)]
struct Explaining {
    /// Every error path.
    at: std::collections::HashSet<Vec<Segment>>,
    /// Every prefix of every error path (the positions an error lies at or below).
    at_or_below: std::collections::HashSet<Vec<Segment>>,
}

impl Explaining {
    fn new(errors: &[Value]) -> Self {
        let mut out = Self::default();
        for error in errors {
            let Some(Value::Array(path)) = error.get("path") else {
                continue;
            };
            let segments: Option<Vec<Segment>> = path
                .iter()
                .map(|step| match (step.as_str(), step.as_u64()) {
                    (Some(key), _) => Some(Segment::Key(key.into())),
                    (_, Some(index)) => Some(Segment::Index(index)),
                    _ => None,
                })
                .collect();
            let Some(segments) = segments else { continue };
            for n in 0..=segments.len() {
                out.at_or_below.insert(segments[..n].to_vec());
            }
            out.at.insert(segments);
        }
        out
    }
}

/// One response key of an object: the fields merged under it, their type on the object's
/// concrete type, and their sub-selections.
struct Entry<'a> {
    /// The client's key (the merged data has the value under `first.key()`).
    key: &'a Name,
    first: &'a Field,
    ty: &'a Type,
    kind: Kind<'a>,
    children: Vec<&'a SelectionSet>,
    /// Every field under this key is withheld from the caller: the value is null.
    withheld: bool,
}

/// Selections of the operation the caller may not see, by address in the operation being
/// shaped: withheld fields are answered null whatever the subgraphs returned, withheld
/// fragments are left out.
#[derive(Debug, Default)]
pub struct Withheld {
    pub fields: Vec<usize>,
    pub fragments: Vec<usize>,
}

impl Withheld {
    /// Whether nothing is withheld.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.fragments.is_empty()
    }

    fn field(&self, field: &Field) -> bool {
        self.fields.contains(&(std::ptr::from_ref(field) as usize))
    }

    fn fragment(&self, fragment: &crate::planner::operation::Fragment) -> bool {
        self.fragments
            .contains(&(std::ptr::from_ref(fragment) as usize))
    }
}

/// What the field's named type is, looked up once per entry rather than once per value.
#[derive(Clone, Copy)]
enum Kind<'a> {
    Builtin(Scalar),
    /// A custom scalar: any JSON value, passed through.
    Custom,
    Enum(&'a apollo_compiler::schema::EnumType),
    Composite,
}

impl<'a> Kind<'a> {
    fn of(ty: Option<&'a ExtendedType>) -> Self {
        match ty {
            Some(ExtendedType::Enum(e)) => Kind::Enum(e),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                Kind::Composite
            }
            Some(ExtendedType::Scalar(scalar)) => {
                Scalar::of(&scalar.name).map_or(Kind::Custom, Kind::Builtin)
            }
            _ => Kind::Custom,
        }
    }
}

#[derive(Clone, Copy)]
enum PathItem<'a> {
    Key(&'a Name),
    Index(usize),
}

struct Shaper<'a> {
    api: &'a Schema,
    graph: &'a Graph,
    withheld: &'a Withheld,
    /// The request's variables, for `@skip`/`@include`.
    variables: &'a JsonMap,
    errors: &'a mut Vec<Value>,
    /// How many of `errors` were there before shaping: those may explain a null.
    given: usize,
    /// The paths of those errors, indexed once when the first null needs them.
    explaining: std::cell::OnceCell<Explaining>,
    path: Vec<PathItem<'a>>,
    out: Vec<u8>,
    /// (type, the selection sets by address) → the object's entries. Up to four selection
    /// sets merge under one key in practice; more are not cached.
    collected: HashMap<(Name, [usize; 4]), Rc<Vec<Entry<'a>>>, ahash::RandomState>,
}

/// What the client selected: the operation, the fields withheld from this caller, and the
/// request's variables (which decide `@skip`/`@include`).
pub struct Selected<'a> {
    pub operation: &'a Operation,
    pub withheld: &'a Withheld,
    pub variables: &'a JsonMap,
}

/// The client's `data` for what it `selected` as JSON text, from the merged `data` and the
/// introspection result. Errors found on the way are added to `errors`.
/// The text is appended to `out` (which may hold a prefix already, and should have room for
/// the response).
pub fn shape_into(
    out: Vec<u8>,
    api: &Schema,
    graph: &Graph,
    selected: Selected<'_>,
    data: &Value,
    introspection: Option<&JsonMap>,
    errors: &mut Vec<Value>,
) -> Vec<u8> {
    let mut out = out;
    let start = out.len();
    let Selected {
        operation,
        withheld,
        variables,
    } = selected;
    let Some(root) = api.root_operation(operation.kind) else {
        out.extend_from_slice(b"null");
        return out;
    };
    let given = errors.len();
    let mut shaper = Shaper {
        api,
        graph,
        withheld,
        variables,
        errors,
        given,
        explaining: std::cell::OnceCell::new(),
        path: Vec::new(),
        out,
        collected: HashMap::default(),
    };
    let empty = Map::new();
    let object = match data {
        Value::Object(map) => map,
        _ => &empty,
    };
    if shaper
        .object(root, object, &[&operation.selection], introspection)
        .is_err()
    {
        shaper.out.truncate(start);
        shaper.out.extend_from_slice(b"null");
    }
    shaper.out
}

impl<'a> Shaper<'a> {
    fn object(
        &mut self,
        typename: &Name,
        object: &Map,
        selections: &[&'a SelectionSet],
        introspection: Option<&JsonMap>,
    ) -> Result<(), Bubble> {
        let entries = self.entries(typename, selections);
        self.out.push(b'{');
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            // Response keys are GraphQL names: nothing to escape.
            self.out.push(b'"');
            self.out.extend_from_slice(entry.key.as_bytes());
            self.out.extend_from_slice(b"\":");
            let first = entry.first;
            if first.name == "__typename" {
                self.out.push(b'"');
                self.out.extend_from_slice(typename.as_bytes());
                self.out.push(b'"');
                continue;
            }
            if let (Some(introspection), true) = (introspection, first.name.starts_with("__")) {
                match introspection.get(entry.key.as_str()) {
                    Some(value) => {
                        let _ = serde_json::to_writer(&mut self.out, value);
                    }
                    None => self.out.extend_from_slice(b"null"),
                }
                continue;
            }
            if entry.withheld {
                // Its authorization error, already in the response, explains this null.
                if entry.ty.is_non_null() {
                    return Err(Bubble);
                }
                self.out.extend_from_slice(b"null");
                continue;
            }
            self.path.push(PathItem::Key(entry.key));
            let result = self.value(
                entry.ty,
                entry.kind,
                object.get(first.key().as_str()),
                &entry.children,
                typename,
                first,
            );
            self.path.pop();
            result?;
        }
        self.out.push(b'}');
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn value(
        &mut self,
        ty: &Type,
        kind: Kind<'a>,
        value: Option<&Value>,
        selections: &[&'a SelectionSet],
        parent: &Name,
        field: &Field,
    ) -> Result<(), Bubble> {
        let value = match value {
            None | Some(Value::Null) => return self.null(ty, parent, field),
            Some(value) => value,
        };
        let start = self.out.len();
        match ty {
            Type::List(inner) | Type::NonNullList(inner) => {
                let Value::Array(items) = value else {
                    self.error(&format!(
                        "{parent}.{} returned a non-list value",
                        field.name
                    ));
                    return self.null(ty, parent, field);
                };
                self.out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(b',');
                    }
                    self.path.push(PathItem::Index(i));
                    let shaped = self.value(inner, kind, Some(item), selections, parent, field);
                    self.path.pop();
                    if shaped.is_err() {
                        return self.rewind(start, ty);
                    }
                }
                self.out.push(b']');
                Ok(())
            }
            Type::Named(name) | Type::NonNullNamed(name) => match kind {
                Kind::Custom => {
                    leaf::write(&mut self.out, value);
                    Ok(())
                }
                Kind::Builtin(scalar) => match leaf::coerce(scalar, value, &mut self.out) {
                    Ok(()) => Ok(()),
                    Err(message) => {
                        self.error_always(&message);
                        self.rewind(start, ty)
                    }
                },
                Kind::Enum(enumeration) => {
                    match value
                        .as_str()
                        .filter(|v| enumeration.values.contains_key(*v))
                    {
                        Some(known) => {
                            // Enum values are GraphQL names: nothing to escape.
                            let _ = write!(self.out, "\"{known}\"");
                            Ok(())
                        }
                        None => {
                            self.error_always(&format!(
                                "{parent}.{}: the subgraph returned a value that is not a valid {name}",
                                field.name
                            ));
                            self.rewind(start, ty)
                        }
                    }
                }
                Kind::Composite => {
                    let Value::Object(object) = value else {
                        self.error(&format!(
                            "{parent}.{} returned a non-object value",
                            field.name
                        ));
                        return self.null(ty, parent, field);
                    };
                    if self.unresolved_concrete(name, object, selections) {
                        // An `@interfaceObject`'s object whose concrete type the plan asked
                        // for and did not get (that fetch failed): it cannot be shaped.
                        self.error(&format!(
                            "{parent}.{}: the concrete type of this {name} could not be resolved",
                            field.name
                        ));
                        return self.rewind(start, ty);
                    }
                    match self.concrete(name, object) {
                        Some(concrete) => match self.object(&concrete, object, selections, None) {
                            Ok(()) => Ok(()),
                            Err(Bubble) => self.rewind(start, ty),
                        },
                        None => {
                            self.error_always(&format!(
                                "{parent}.{}: the subgraph returned an object of a type this API does not have",
                                field.name
                            ));
                            self.rewind(start, ty)
                        }
                    }
                }
            },
        }
    }

    /// Something inside the value that started at `start` had to be null: the value itself
    /// becomes null, or, if its position is non-null, the null moves up.
    fn rewind(&mut self, start: usize, ty: &Type) -> Result<(), Bubble> {
        self.out.truncate(start);
        if ty.is_non_null() {
            Err(Bubble)
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }

    /// Whether `object`, in a position of interface type `ty`, carries no concrete type (none,
    /// or the interface's own name, as an `@interfaceObject` answers) while `selections` ask
    /// for something only its concrete type answers: its `__typename`, or a fragment on an
    /// object type.
    fn unresolved_concrete(&self, ty: &Name, object: &Map, selections: &[&SelectionSet]) -> bool {
        // Only what the request selects counts: skipped fields need nothing.
        fn needs(api: &apollo_compiler::Schema, variables: &JsonMap, set: &SelectionSet) -> bool {
            fn any_field(variables: &JsonMap, set: &SelectionSet) -> bool {
                set.0.iter().any(|item| match item {
                    Selection::Field(field) => {
                        crate::planner::operation::holds(&field.conditions, variables)
                    }
                    Selection::Fragment(fragment) => any_field(variables, &fragment.selection),
                })
            }
            set.0.iter().any(|item| match item {
                Selection::Field(field) => {
                    field.name == "__typename"
                        && crate::planner::operation::holds(&field.conditions, variables)
                }
                Selection::Fragment(fragment) => {
                    (matches!(api.types.get(&fragment.on), Some(ExtendedType::Object(_)))
                        && any_field(variables, &fragment.selection))
                        || needs(api, variables, &fragment.selection)
                }
            })
        }
        if !matches!(self.api.types.get(ty), Some(ExtendedType::Interface(_))) {
            return false;
        }
        let typename = object.get("__typename").and_then(Value::as_str);
        typename.is_none_or(|t| t == ty.as_str())
            && selections
                .iter()
                .any(|set| needs(self.api, self.variables, set))
    }

    /// The concrete type of an object in a position of type `ty`.
    fn concrete(&self, ty: &Name, object: &Map) -> Option<Name> {
        if let Some(ExtendedType::Object(_)) = self.api.types.get(ty) {
            return Some(ty.clone());
        }
        let Some(typename) = object.get("__typename").and_then(Value::as_str) else {
            // From an `@interfaceObject`, with nothing that needed the concrete type.
            return matches!(self.api.types.get(ty), Some(ExtendedType::Interface(_)))
                .then(|| ty.clone());
        };
        if typename == ty.as_str() {
            // From an `@interfaceObject`: the plan fetched no concrete type because the
            // selection needs none, so the interface's own fields are shaped.
            return Some(ty.clone());
        }
        match self.api.types.get(typename) {
            Some(ExtendedType::Object(object))
                if self.graph.possible_types(ty).iter().any(|t| t == typename) =>
            {
                Some(object.name.clone())
            }
            _ => None,
        }
    }

    fn null(&mut self, ty: &Type, parent: &Name, field: &Field) -> Result<(), Bubble> {
        if ty.is_non_null() {
            self.error(&format!(
                "Cannot return null for non-nullable field {parent}.{}",
                field.name
            ));
            Err(Bubble)
        } else {
            self.out.extend_from_slice(b"null");
            Ok(())
        }
    }

    /// Reports a null the router found here, unless an error already in the response
    /// explains it.
    fn error(&mut self, message: &str) {
        if !self.explained() {
            self.error_always(message);
        }
    }

    /// Whether an error given before shaping lies at the current position, below it (the
    /// subgraph's own error under a null it propagated) or above it (a fetch that failed for
    /// the object holding it). Looked up in sets built once, so a response with many errors
    /// and many nulls costs no more than its length.
    fn explained(&self) -> bool {
        let explaining = self
            .explaining
            .get_or_init(|| Explaining::new(&self.errors[..self.given]));
        if explaining.at_or_below.is_empty() {
            return false;
        }
        let here: Vec<Segment> = self
            .path
            .iter()
            .map(|item| match item {
                PathItem::Key(k) => Segment::Key(k.as_str().into()),
                PathItem::Index(i) => Segment::Index(*i as u64),
            })
            .collect();
        explaining.at_or_below.contains(here.as_slice())
            || (0..here.len()).any(|n| explaining.at.contains(&here[..n]))
    }

    fn error_always(&mut self, message: &str) {
        let path = self
            .path
            .iter()
            .map(|item| match item {
                PathItem::Key(k) => Value::String(k.as_str().into()),
                PathItem::Index(i) => Value::from(*i as u64),
            })
            .collect();
        let mut extensions = Map::new();
        extensions.push("code", Value::String("RESPONSE_VALIDATION_FAILED".into()));
        let mut out = Map::new();
        out.push("message", Value::String(message.into()));
        out.push("path", Value::Array(path));
        out.push("extensions", Value::Object(extensions));
        self.errors.push(Value::Object(out));
    }

    /// The entries of an object of type `typename`: fields merged by response key, in order.
    fn entries(&mut self, typename: &Name, selections: &[&'a SelectionSet]) -> Rc<Vec<Entry<'a>>> {
        let cache_key = (selections.len() <= 4).then(|| {
            let mut addresses = [0usize; 4];
            for (slot, set) in addresses.iter_mut().zip(selections) {
                *slot = std::ptr::from_ref(*set) as usize;
            }
            (typename.clone(), addresses)
        });
        if let Some(hit) = cache_key.as_ref().and_then(|k| self.collected.get(k)) {
            return hit.clone();
        }
        let mut grouped: Vec<(&'a Name, Vec<&'a Field>)> = Vec::new();
        for set in selections {
            self.collect_into(typename, set, &mut grouped);
        }
        let api = self.api;
        let entries: Vec<Entry<'a>> = grouped
            .into_iter()
            .map(|(key, fields)| {
                let first = fields[0];
                // The concrete type's own definition: it may be narrower than an interface's.
                let ty = api
                    .type_field(typename, &first.name)
                    .map(|def| &def.ty)
                    .unwrap_or(&first.ty);
                let kind = Kind::of(api.types.get(ty.inner_named_type()));
                Entry {
                    key,
                    first,
                    ty,
                    kind,
                    children: fields.iter().map(|f| &f.selection).collect(),
                    withheld: !self.withheld.fields.is_empty()
                        && fields.iter().all(|f| self.withheld.field(f)),
                }
            })
            .collect();
        let entries = Rc::new(entries);
        if let Some(cache_key) = cache_key {
            self.collected.insert(cache_key, entries.clone());
        }
        entries
    }

    fn collect_into(
        &self,
        typename: &Name,
        set: &'a SelectionSet,
        out: &mut Vec<(&'a Name, Vec<&'a Field>)>,
    ) {
        for item in &set.0 {
            match item {
                Selection::Field(field)
                    if !crate::planner::operation::holds(&field.conditions, self.variables) => {}
                Selection::Field(field) => {
                    let key = field.client_key();
                    match out.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, fields)) => fields.push(field),
                        None => out.push((key, vec![field])),
                    }
                }
                Selection::Fragment(fragment) => {
                    if (&fragment.on == typename
                        || self.graph.possible_types(&fragment.on).contains(typename))
                        && !self.withheld.fragment(fragment)
                    {
                        self.collect_into(typename, &fragment.selection, out);
                    }
                }
            }
        }
    }
}
