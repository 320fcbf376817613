//! OneOf input objects (`input SearchBy @oneOf { id: ID, email: String }`): a value gives
//! exactly one of the fields, and not null. The GraphQL specification checks this in two
//! places, which apollo-compiler 1.33 does not know yet:
//!
//! - validation, for literals ([`check_document`]): an input object literal of a OneOf type
//!   has exactly one field, its value is not the literal `null`, and a variable given as that
//!   value is declared non-null (its value cannot be null then);
//! - variable coercion, for the values sent with the request ([`check_variables`]): every
//!   OneOf input object inside a variable's value, at any depth, has exactly one entry, and
//!   it is not null.

use std::collections::HashSet;
use std::fmt::Write as _;

use apollo_compiler::ast::{Type, Value};
use apollo_compiler::executable::{
    DirectiveList, ExecutableDocument, Operation, Selection, SelectionSet, VariableDefinition,
};
use apollo_compiler::parser::SourceSpan;
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::{ExtendedType, InputObjectType};
use apollo_compiler::{Name, Node, Schema};

/// The name of the directive that makes an input object a OneOf input object.
pub const DIRECTIVE: &str = "oneOf";

/// Whether `ty` is a OneOf input object.
pub fn is_one_of(ty: &InputObjectType) -> bool {
    ty.directives.has(DIRECTIVE)
}

/// The OneOf literal rules broken in `document`: where, and why. Every operation is checked
/// with the fragments it spreads, against its own variable definitions.
pub fn check_document(
    schema: &Schema,
    document: &ExecutableDocument,
) -> Vec<(Option<SourceSpan>, String)> {
    let mut check = Literals {
        schema,
        document,
        variables: &[],
        visited: HashSet::new(),
        errors: Vec::new(),
    };
    for operation in document.operations.iter() {
        check.operation(operation);
    }
    check.errors
}

/// Checks the coerced variable values of `operation`: a message naming the variable and the
/// place inside its value when a OneOf input object in it is not given exactly one non-null
/// field.
pub fn check_variables(
    schema: &Schema,
    operation: &Operation,
    values: &JsonMap,
) -> Result<(), String> {
    for variable in &operation.variables {
        let Some(value) = values.get(variable.name.as_str()) else {
            continue;
        };
        let mut path = String::new();
        if let Err(problem) = check_value(schema, &variable.ty, value, &mut path) {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(", at `{}`", path.trim_start_matches('.'))
            };
            return Err(format!("variable `${}`{at}: {problem}", variable.name));
        }
    }
    Ok(())
}

fn check_value(
    schema: &Schema,
    ty: &Type,
    value: &JsonValue,
    path: &mut String,
) -> Result<(), String> {
    match value {
        JsonValue::Array(items) if ty.is_list() => {
            let depth = path.len();
            for (index, item) in items.iter().enumerate() {
                // Writing to a String cannot fail.
                let _ = write!(path, "[{index}]");
                check_value(schema, ty.item_type(), item, path)?;
                path.truncate(depth);
            }
            Ok(())
        }
        JsonValue::Object(object) => {
            // A single value where a list is expected stands for a list of one.
            let Some(ExtendedType::InputObject(input)) = schema.types.get(ty.inner_named_type())
            else {
                return Ok(());
            };
            if is_one_of(input) {
                if object.len() != 1 {
                    return Err(exactly_one(&input.name, object.len()));
                }
                if let Some((key, JsonValue::Null)) = object.iter().next() {
                    return Err(not_null(&input.name, key.as_str()));
                }
            }
            let depth = path.len();
            for (key, field) in object {
                if let Some(definition) = input.fields.get(key.as_str()) {
                    path.push('.');
                    path.push_str(key.as_str());
                    check_value(schema, &definition.ty, field, path)?;
                    path.truncate(depth);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn exactly_one(ty: &Name, found: usize) -> String {
    format!("OneOf input object `{ty}` must be given exactly one field, not {found}")
}

fn not_null(ty: &Name, field: &str) -> String {
    format!("OneOf input object field `{ty}.{field}` must not be null")
}

/// The literal walk of one operation at a time.
struct Literals<'a> {
    schema: &'a Schema,
    document: &'a ExecutableDocument,
    /// The variable definitions of the operation being checked.
    variables: &'a [Node<VariableDefinition>],
    /// The fragments already checked for it.
    visited: HashSet<&'a Name>,
    errors: Vec<(Option<SourceSpan>, String)>,
}

impl<'a> Literals<'a> {
    fn operation(&mut self, operation: &'a Operation) {
        self.variables = &operation.variables;
        self.visited.clear();
        for variable in &operation.variables {
            if let Some(default) = &variable.default_value {
                self.value(default, &variable.ty);
            }
            self.directives(&variable.directives);
        }
        self.directives(&operation.directives);
        self.selections(&operation.selection_set);
    }

    fn selections(&mut self, set: &'a SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => {
                    for argument in &field.arguments {
                        if let Some(definition) = field.definition.argument_by_name(&argument.name)
                        {
                            self.value(&argument.value, &definition.ty);
                        }
                    }
                    self.directives(&field.directives);
                    self.selections(&field.selection_set);
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.directives);
                    self.selections(&inline.selection_set);
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.directives);
                    if self.visited.insert(&spread.fragment_name)
                        && let Some(fragment) = self.document.fragments.get(&spread.fragment_name)
                    {
                        self.directives(&fragment.directives);
                        self.selections(&fragment.selection_set);
                    }
                }
            }
        }
    }

    fn directives(&mut self, directives: &'a DirectiveList) {
        for directive in directives.iter() {
            let Some(definition) = self.schema.directive_definitions.get(&directive.name) else {
                continue;
            };
            for argument in &directive.arguments {
                if let Some(argument_definition) = definition.argument_by_name(&argument.name) {
                    self.value(&argument.value, &argument_definition.ty);
                }
            }
        }
    }

    fn value(&mut self, value: &'a Node<Value>, ty: &Type) {
        match value.as_ref() {
            Value::List(items) if ty.is_list() => {
                for item in items {
                    self.value(item, ty.item_type());
                }
            }
            Value::Object(fields) => {
                // A single value where a list is expected stands for a list of one.
                let Some(ExtendedType::InputObject(input)) =
                    self.schema.types.get(ty.inner_named_type())
                else {
                    return;
                };
                if is_one_of(input) {
                    self.one_of(value.location(), input, fields);
                }
                for (name, field) in fields {
                    if let Some(definition) = input.fields.get(name) {
                        self.value(field, &definition.ty);
                    }
                }
            }
            _ => {}
        }
    }

    fn one_of(
        &mut self,
        location: Option<SourceSpan>,
        input: &InputObjectType,
        fields: &[(Name, Node<Value>)],
    ) {
        let [(name, value)] = fields else {
            self.report(location, exactly_one(&input.name, fields.len()));
            return;
        };
        match value.as_ref() {
            Value::Null => self.report(location, not_null(&input.name, name)),
            Value::Variable(variable) => {
                let declared = self.variables.iter().find(|v| v.name == *variable);
                if let Some(declared) = declared
                    && !declared.ty.is_non_null()
                {
                    self.report(
                        value.location(),
                        format!(
                            "variable `${variable}` of type `{}` cannot be used for OneOf input \
                             object field `{}.{name}`: the variable must be non-null",
                            declared.ty, input.name
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// Records a problem once, however many operations spread the fragment it is in.
    fn report(&mut self, location: Option<SourceSpan>, message: String) {
        let error = (location, message);
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }
}
