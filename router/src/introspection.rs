//! Schema introspection: apollo-compiler's engine, plus the introspection fields it does not
//! know yet.
//!
//! apollo-compiler answers `__schema` and `__type` inside its own execution engine, with
//! resolvers we cannot extend, and it answers every field of the September 2025 introspection
//! schema but one: `__Type.isOneOf` (OneOf input objects). Rather than re-implement the whole
//! introspection schema to add one field, the router keeps apollo-compiler authoritative and
//! bridges the gap in two places:
//!
//! - [`declare_fields`] adds `isOneOf: Boolean` to `__Type` in the API schema, so operations
//!   asking for it validate (graphql-js asks for it in `getIntrospectionQuery({ oneOf: true })`,
//!   which GraphiQL and code generators send);
//! - [`execute`] runs a copy of the operation in which each `isOneOf` selection asks for the
//!   type's `name` instead, under the same response key, then walks the result along the
//!   client's own selections and replaces each such name by the answer: `true` for an input
//!   object with `@oneOf`, `false` for another input object, `null` for any other kind of type
//!   (and for the list and non-null wrappers, whose `name` is null), as graphql-js answers.
//!
//! The walk follows the typed selection sets rather than searching the result for marker keys,
//! so no alias a client chooses can be mistaken for one of ours. See docs/adr/0016.

use apollo_compiler::ast::Type;
use apollo_compiler::collections::{HashMap, IndexMap};
use apollo_compiler::executable::{Field, Operation, Selection, SelectionSet};
use apollo_compiler::request::RequestError;
use apollo_compiler::response::{ExecutionResponse, JsonMap, JsonValue};
use apollo_compiler::schema::{Component, ExtendedType, FieldDefinition, Implementers};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema, name};

/// The introspection field apollo-compiler does not resolve.
const IS_ONE_OF: &str = "isOneOf";

/// The field each `isOneOf` selection is answered from: a named type's `name` tells which
/// type it is, and a wrapper type's is null.
const ANSWERED_FROM: &str = "name";

/// Adds the introspection fields apollo-compiler's built-in `__Type` lacks to `schema`.
pub fn declare_fields(schema: &mut Schema) {
    let Some(ExtendedType::Object(ty)) = schema.types.get_mut("__Type") else {
        return;
    };
    let ty = ty.make_mut();
    if ty.fields.contains_key(IS_ONE_OF) {
        return;
    }
    ty.fields.insert(
        name!("isOneOf"),
        Component::new(FieldDefinition {
            description: Some(
                "`true` for an input object that takes exactly one of its fields (`@oneOf`), \
                 `false` for other input objects, null for other kinds of types."
                    .into(),
            ),
            name: name!("isOneOf"),
            arguments: Vec::new(),
            ty: Type::Named(name!("Boolean")),
            directives: Default::default(),
        }),
    );
}

/// Whether `ty` is a OneOf input object: `Some(true)` for an input object with `@oneOf`,
/// `Some(false)` for another input object, `None` for other kinds.
pub fn is_one_of(ty: &ExtendedType) -> Option<bool> {
    match ty {
        ExtendedType::InputObject(input) => Some(crate::validation::one_of::is_one_of(input)),
        ExtendedType::Scalar(_)
        | ExtendedType::Object(_)
        | ExtendedType::Interface(_)
        | ExtendedType::Union(_)
        | ExtendedType::Enum(_) => None,
    }
}

/// Answers the introspection root fields (`__schema`, `__type`, root `__typename`) of
/// `operation`, as [`apollo_compiler::introspection::partial_execute`] does, with the fields
/// [`declare_fields`] added.
pub fn execute(
    api: &Valid<Schema>,
    implementers: &HashMap<Name, Implementers>,
    document: &Valid<ExecutableDocument>,
    operation: &Operation,
    variables: &Valid<JsonMap>,
) -> Result<ExecutionResponse, RequestError> {
    let Some(rewritten) = answer_from_name(api, document) else {
        return apollo_compiler::introspection::partial_execute(
            api,
            implementers,
            document,
            operation,
            variables,
        );
    };
    let rewritten_operation: &Operation = rewritten
        .operations
        .get(operation.name.as_deref())
        .map_or(operation, |found| found);
    let mut response = apollo_compiler::introspection::partial_execute(
        api,
        implementers,
        &rewritten,
        rewritten_operation,
        variables,
    )?;
    if let Some(data) = &mut response.data {
        let root = operation.object_type();
        patch_object(api, document, root, &[&operation.selection_set], data);
    }
    Ok(response)
}

/// A copy of `document` in which every `__Type.isOneOf` selection selects `name` under the
/// same response key, or `None` when no selection asks for `isOneOf`.
fn answer_from_name(
    api: &Schema,
    document: &ExecutableDocument,
) -> Option<Valid<ExecutableDocument>> {
    let asks = document
        .operations
        .iter()
        .map(|operation| &operation.selection_set)
        .chain(document.fragments.values().map(|f| &f.selection_set))
        .any(mentions_is_one_of);
    if !asks {
        return None;
    }
    let definition = api.type_field("__Type", ANSWERED_FROM).ok()?.node.clone();
    let mut copy = document.clone();
    for operation in copy
        .operations
        .anonymous
        .iter_mut()
        .chain(copy.operations.named.values_mut())
    {
        if mentions_is_one_of(&operation.selection_set) {
            rewrite(&mut operation.make_mut().selection_set, &definition);
        }
    }
    for fragment in copy.fragments.values_mut() {
        if mentions_is_one_of(&fragment.selection_set) {
            rewrite(&mut fragment.make_mut().selection_set, &definition);
        }
    }
    // The copy differs from a valid document only in fields of the same type (String for a
    // nullable Boolean) under the same response keys, which execution alone sees.
    Some(Valid::assume_valid(copy))
}

fn mentions_is_one_of(set: &SelectionSet) -> bool {
    set.selections.iter().any(|selection| match selection {
        Selection::Field(field) => {
            (set.ty == "__Type" && field.name == IS_ONE_OF)
                || mentions_is_one_of(&field.selection_set)
        }
        Selection::InlineFragment(inline) => mentions_is_one_of(&inline.selection_set),
        Selection::FragmentSpread(_) => false,
    })
}

fn rewrite(set: &mut SelectionSet, definition: &Node<FieldDefinition>) {
    let is_type = set.ty == "__Type";
    for selection in &mut set.selections {
        match selection {
            Selection::Field(field) if is_type && field.name == IS_ONE_OF => {
                let field = field.make_mut();
                field.alias = Some(field.response_key().clone());
                field.name = definition.name.clone();
                field.definition = definition.clone();
            }
            Selection::Field(field) => {
                if mentions_is_one_of(&field.selection_set) {
                    rewrite(&mut field.make_mut().selection_set, definition);
                }
            }
            Selection::InlineFragment(inline) => {
                if mentions_is_one_of(&inline.selection_set) {
                    rewrite(&mut inline.make_mut().selection_set, definition);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Replaces, in `object` (of type `ty`, the result of `selections`), each value answered for
/// an `isOneOf` selection, and recurses into the values of composite fields.
fn patch_object(
    api: &Schema,
    document: &ExecutableDocument,
    ty: &Name,
    selections: &[&SelectionSet],
    object: &mut JsonMap,
) {
    let mut fields = IndexMap::default();
    let mut visited = Vec::new();
    for set in selections {
        collect(document, set, &mut fields, &mut visited);
    }
    for (key, fields) in fields {
        let Some(value) = object.get_mut(key.as_str()) else {
            continue;
        };
        let first: &Field = fields[0];
        if ty == "__Type" && first.name == IS_ONE_OF {
            let answer = value
                .as_str()
                .and_then(|name| api.types.get(name))
                .and_then(is_one_of);
            *value = answer.map_or(JsonValue::Null, JsonValue::Bool);
            continue;
        }
        let children: Vec<&SelectionSet> = fields
            .iter()
            .map(|field| &field.selection_set)
            .filter(|set| !set.selections.is_empty())
            .collect();
        if !children.is_empty() {
            let child_type = first.definition.ty.inner_named_type();
            patch_value(api, document, child_type, &children, value);
        }
    }
}

fn patch_value(
    api: &Schema,
    document: &ExecutableDocument,
    ty: &Name,
    selections: &[&SelectionSet],
    value: &mut JsonValue,
) {
    match value {
        JsonValue::Object(object) => patch_object(api, document, ty, selections, object),
        JsonValue::Array(items) => {
            for item in items {
                patch_value(api, document, ty, selections, item);
            }
        }
        _ => {}
    }
}

/// The fields of `set` by response key, fragments expanded. Introspection types are object
/// types that belong to no interface or union, so every fragment that validated applies.
fn collect<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    fields: &mut IndexMap<&'a Name, Vec<&'a Field>>,
    visited: &mut Vec<&'a Name>,
) {
    for selection in &set.selections {
        match selection {
            Selection::Field(field) => fields.entry(field.response_key()).or_default().push(field),
            Selection::InlineFragment(inline) => {
                collect(document, &inline.selection_set, fields, visited);
            }
            Selection::FragmentSpread(spread) => {
                if visited.contains(&&spread.fragment_name) {
                    continue;
                }
                visited.push(&spread.fragment_name);
                if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                    collect(document, &fragment.selection_set, fields, visited);
                }
            }
        }
    }
}
