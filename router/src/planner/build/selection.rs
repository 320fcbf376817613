//! Editing and reading the selection sets of fetch groups and field sets.

use std::borrow::Cow;
use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::ast::Type;

use super::super::graph::Graph;
use super::super::operation::{Condition, Field, Fragment, Selection, SelectionSet};
use super::super::plan::PathSegment;

/// The fields of `selection` that apply to objects of type `ty`, fragments flattened.
pub(crate) fn flatten_fields<'s>(
    graph: &Graph,
    ty: &Name,
    selection: &'s SelectionSet,
) -> Vec<&'s Field> {
    let mut out = Vec::new();
    fn go<'s>(graph: &Graph, ty: &Name, selection: &'s SelectionSet, out: &mut Vec<&'s Field>) {
        for item in &selection.0 {
            match item {
                Selection::Field(f) => out.push(f),
                Selection::Fragment(fragment) => {
                    if applies(graph, &fragment.on, ty) {
                        go(graph, ty, &fragment.selection, out);
                    }
                }
            }
        }
    }
    go(graph, ty, selection, &mut out);
    out
}

/// The fields of one selection, a field selected more than once alike (same response key,
/// arguments and conditions, as in `{ t { a } t { b } }`) once, with the selections merged:
/// walked apart, each would plan fetches of its own for the same objects.
pub(crate) fn merged<'s>(fields: Vec<&'s Field>) -> Vec<Cow<'s, Field>> {
    let mut out: Vec<Cow<'s, Field>> = Vec::with_capacity(fields.len());
    // By response key, so that a wide selection is not compared pairwise.
    let mut by_key: HashMap<&'s Name, Vec<usize>, ahash::RandomState> = HashMap::default();
    for field in fields {
        let same = by_key.entry(field.key()).or_default();
        match same.iter().copied().find(|&i| out[i].same_field(field)) {
            Some(i) => merge_into(&mut out[i].to_mut().selection, &field.selection),
            None => {
                same.push(out.len());
                out.push(Cow::Borrowed(field));
            }
        }
    }
    out
}

/// The fields of one object's selection in the order they are walked: merged, and fields
/// under fewer conditions first. An unconditional field's fetch is then there for a
/// conditional field of the same objects to join; the other way round, the conditional fetch
/// could not serve it and both would be sent.
pub(crate) fn walk_order<'s>(fields: Vec<&'s Field>) -> Vec<Cow<'s, Field>> {
    let mut out = merged(fields);
    out.sort_by_key(|f| f.conditions.len());
    out
}

/// Whether a fragment on `on` applies to an object of type `ty`.
pub(crate) fn applies(graph: &Graph, on: &Name, ty: &Name) -> bool {
    on == ty
        || graph.possible_types(on).contains(ty)
        || (graph.is_abstract(ty)
            && graph
                .possible_types(ty)
                .iter()
                .any(|t| graph.possible_types(on).contains(t)))
}

/// The part of a provided field set that applies to `ty`.
pub(crate) fn narrow(graph: &Graph, provided: &SelectionSet, ty: &Name) -> SelectionSet {
    SelectionSet(
        flatten_fields(graph, ty, provided)
            .into_iter()
            .cloned()
            .map(Selection::Field)
            .collect(),
    )
}

/// The field `name` of a provided field set, on objects of type `ty`: a field provided in a
/// fragment on another type (`... on Dog { name }`) is not provided on a `Cat`.
pub(crate) fn provided_field<'s>(
    graph: &Graph,
    provided: &'s SelectionSet,
    ty: &Name,
    name: &str,
) -> Option<&'s Field> {
    flatten_fields(graph, ty, provided)
        .into_iter()
        .find(|f| f.name == name)
}

pub(crate) fn extend_path(path: &[PathSegment], field: &Field) -> Vec<PathSegment> {
    let mut out = path.to_vec();
    out.push(PathSegment::Key(field.key().clone()));
    let mut ty = &field.ty;
    loop {
        match ty {
            Type::NonNullNamed(_) | Type::Named(_) => break,
            Type::List(inner) | Type::NonNullList(inner) => {
                out.push(PathSegment::List);
                ty = inner;
            }
        }
    }
    out
}

pub(crate) fn typename_field() -> Field {
    Field {
        alias: None,
        client_key: None,
        name: Name::new_unchecked("__typename"),
        arguments: Vec::new(),
        ty: Type::NonNullNamed(Name::new_unchecked("String")),
        conditions: Vec::new(),
        selection: SelectionSet::default(),
    }
}

pub(crate) fn ensure_field<'s>(set: &'s mut SelectionSet, field: &Field) -> &'s mut SelectionSet {
    let index = match set
        .0
        .iter()
        .position(|item| matches!(item, Selection::Field(f) if f.same_field(field)))
    {
        Some(i) => i,
        None => {
            set.0.push(Selection::Field(Field {
                selection: SelectionSet::default(),
                ..field.clone()
            }));
            set.0.len() - 1
        }
    };
    match &mut set.0[index] {
        Selection::Field(f) => &mut f.selection,
        Selection::Fragment(_) => unreachable!("the index points at a field"),
    }
}

pub(crate) fn ensure_fragment<'s>(set: &'s mut SelectionSet, on: &Name) -> &'s mut SelectionSet {
    let index = match set
        .0
        .iter()
        .position(|item| matches!(item, Selection::Fragment(f) if &f.on == on))
    {
        Some(i) => i,
        None => {
            set.0.push(Selection::Fragment(Fragment {
                on: on.clone(),
                selection: SelectionSet::default(),
            }));
            set.0.len() - 1
        }
    };
    match &mut set.0[index] {
        Selection::Fragment(f) => &mut f.selection,
        Selection::Field(_) => unreachable!("the index points at a fragment"),
    }
}

/// Whether two representation field sets name the same field with different arguments.
pub(crate) fn conflicts(a: &SelectionSet, b: &SelectionSet) -> bool {
    let fields = |set: &SelectionSet| -> Vec<Field> {
        let mut out = Vec::new();
        let mut stack: Vec<&SelectionSet> = vec![set];
        while let Some(set) = stack.pop() {
            for item in &set.0 {
                match item {
                    Selection::Field(f) => out.push(f.clone()),
                    Selection::Fragment(fragment) => stack.push(&fragment.selection),
                }
            }
        }
        out
    };
    let (a, b) = (fields(a), fields(b));
    a.iter().any(|x| {
        b.iter().any(|y| {
            x.name == y.name
                && (x.arguments != y.arguments || conflicts(&x.selection, &y.selection))
        })
    })
}

/// Whether every field of `wanted`, nested ones included, is already in `have` (a
/// representation that holds them grows by nothing).
pub(crate) fn covers(have: &SelectionSet, wanted: &SelectionSet) -> bool {
    wanted.0.iter().all(|item| match item {
        Selection::Field(f) => have.0.iter().any(|h| {
            matches!(h, Selection::Field(h) if h.name == f.name
                && h.key() == f.key()
                && h.arguments == f.arguments
                && covers(&h.selection, &f.selection))
        }),
        Selection::Fragment(fragment) => have.0.iter().any(|h| {
            matches!(h, Selection::Fragment(h) if h.on == fragment.on
                && covers(&h.selection, &fragment.selection))
        }),
    })
}

/// Adds the selections of `from` to `into`, merging fields and fragments that match.
pub(crate) fn merge_into(into: &mut SelectionSet, from: &SelectionSet) {
    for item in &from.0 {
        match item {
            Selection::Field(f) => {
                let child = ensure_field(into, f);
                merge_into(child, &f.selection);
            }
            Selection::Fragment(fragment) => {
                let child = ensure_fragment(into, &fragment.on);
                merge_into(child, &fragment.selection);
            }
        }
    }
}

/// The conditions every field of `selection` (at its level, fragments looked through) is
/// selected under; `None` when it has no field.
pub(super) fn shared_conditions(selection: &SelectionSet) -> Option<Vec<Condition>> {
    fn walk(selection: &SelectionSet, common: &mut Option<Vec<Condition>>) {
        for item in &selection.0 {
            match item {
                Selection::Field(field) => match common {
                    Some(common) => common.retain(|c| field.conditions.contains(c)),
                    None => *common = Some(field.conditions.clone()),
                },
                Selection::Fragment(fragment) => walk(&fragment.selection, common),
            }
        }
    }
    let mut common = None;
    walk(selection, &mut common);
    common
}
