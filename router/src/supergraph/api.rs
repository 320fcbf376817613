//! The API schema: the supergraph without the elements of the linked specifications (join,
//! link, inaccessible, ...) and without anything marked `@inaccessible`. Clients validate and
//! introspect against it. Its `__Type` has the introspection fields the router answers beyond
//! apollo-compiler's ([`crate::introspection`]).

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use super::SupergraphError;
use super::links::Links;

/// Derives the API schema of `supergraph`.
pub fn derive(supergraph: &Schema, links: &Links) -> Result<Valid<Schema>, SupergraphError> {
    let is_spec = |name: &str| {
        links.all.iter().any(|l| {
            name == l.namespace
                || name
                    .strip_prefix(l.namespace.as_str())
                    .is_some_and(|rest| rest.starts_with("__"))
                || l.imports.iter().any(|i| i == name)
        })
    };
    let inaccessible = links.inaccessible();
    let hidden = |directives: &apollo_compiler::ast::DirectiveList| {
        inaccessible
            .as_deref()
            .is_some_and(|name| directives.has(name))
    };
    let hidden_component = |directives: &apollo_compiler::schema::DirectiveList| {
        inaccessible
            .as_deref()
            .is_some_and(|name| directives.has(name))
    };

    let mut schema = supergraph.clone();
    schema
        .schema_definition
        .make_mut()
        .directives
        .retain(|d| !is_spec(&d.name));
    schema
        .directive_definitions
        .retain(|name, _| !is_spec(name));
    let removed: Vec<apollo_compiler::Name> = schema
        .types
        .iter()
        .filter(|(name, ty)| is_spec(name) || hidden_component(ty.directives()))
        .map(|(name, _)| name.clone())
        .collect();
    schema.types.retain(|name, _| !removed.contains(name));

    for ty in schema.types.values_mut() {
        match ty {
            ExtendedType::Object(object) => {
                let object = object.make_mut();
                object.directives.retain(|d| !is_spec(&d.name));
                object
                    .implements_interfaces
                    .retain(|i| !removed.contains(&i.name));
                strip_fields(&mut object.fields, &is_spec, &hidden);
            }
            ExtendedType::Interface(interface) => {
                let interface = interface.make_mut();
                interface.directives.retain(|d| !is_spec(&d.name));
                interface
                    .implements_interfaces
                    .retain(|i| !removed.contains(&i.name));
                strip_fields(&mut interface.fields, &is_spec, &hidden);
            }
            ExtendedType::Union(union) => {
                let union = union.make_mut();
                union.directives.retain(|d| !is_spec(&d.name));
                union.members.retain(|m| !removed.contains(&m.name));
            }
            ExtendedType::Enum(enumeration) => {
                let enumeration = enumeration.make_mut();
                enumeration.directives.retain(|d| !is_spec(&d.name));
                enumeration.values.retain(|_, v| !hidden(&v.directives));
                for value in enumeration.values.values_mut() {
                    value.make_mut().directives.retain(|d| !is_spec(&d.name));
                }
            }
            ExtendedType::InputObject(input) => {
                let input = input.make_mut();
                input.directives.retain(|d| !is_spec(&d.name));
                input.fields.retain(|_, f| !hidden(&f.directives));
                for field in input.fields.values_mut() {
                    field.make_mut().directives.retain(|d| !is_spec(&d.name));
                }
            }
            ExtendedType::Scalar(scalar) => {
                scalar.make_mut().directives.retain(|d| !is_spec(&d.name));
            }
        }
    }
    crate::introspection::declare_fields(&mut schema);
    schema.validate().map_err(|invalid| {
        SupergraphError::Malformed(format!(
            "the API schema (without inaccessible elements) is invalid:\n{}",
            invalid.errors
        ))
    })
}

type Fields = apollo_compiler::collections::IndexMap<
    apollo_compiler::Name,
    apollo_compiler::schema::Component<apollo_compiler::schema::FieldDefinition>,
>;

/// Removes hidden fields and arguments, and spec directives from what stays.
fn strip_fields(
    fields: &mut Fields,
    is_spec: &impl Fn(&str) -> bool,
    hidden: &impl Fn(&apollo_compiler::ast::DirectiveList) -> bool,
) {
    fields.retain(|_, f| !hidden(&f.directives));
    for field in fields.values_mut() {
        let field = field.make_mut();
        field.directives.retain(|d| !is_spec(&d.name));
        field.arguments.retain(|a| !hidden(&a.directives));
        for argument in &mut field.arguments {
            argument.make_mut().directives.retain(|d| !is_spec(&d.name));
        }
    }
}
