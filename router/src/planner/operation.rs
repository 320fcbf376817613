//! The normalized operation the planner and the response shaper work on: named fragments
//! inlined, `@skip`/`@include` decided for the request's variables, and each field carrying
//! its schema type. Plans are cached per normalized operation, so everything that changes the
//! plan is part of it.

use std::fmt::Write as _;
use std::sync::Arc;

use apollo_compiler::ast::{OperationType, Type, Value};
use apollo_compiler::executable::{self, ExecutableDocument};
use apollo_compiler::{Name, Node};

/// A selection set: fields and inline fragments, in document order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SelectionSet(pub Vec<Selection>);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selection {
    Field(Field),
    /// An inline fragment with a type condition (fragments without one are flattened).
    Fragment(Fragment),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    pub alias: Option<Name>,
    pub name: Name,
    pub arguments: Vec<(Name, Node<Value>)>,
    /// The field's type as declared on its parent type.
    pub ty: Type,
    pub selection: SelectionSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fragment {
    pub on: Name,
    pub selection: SelectionSet,
}

impl Field {
    /// The key of this field in the response object.
    pub fn key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }

    /// Whether `other` selects the same field with the same arguments (so the two merge).
    pub fn same_field(&self, other: &Field) -> bool {
        self.key() == other.key() && self.name == other.name && self.arguments == other.arguments
    }
}

/// A variable the operation declares, as written in the document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VariableDefinition {
    pub name: Name,
    /// The definition as GraphQL text (`$name: Type = default`), reused in subgraph operations.
    pub text: String,
}

/// An operation ready for planning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operation {
    pub kind: OperationType,
    pub name: Option<Name>,
    pub variables: Vec<VariableDefinition>,
    pub selection: SelectionSet,
}

/// How each `@skip`/`@include` condition came out, for the plan-cache key.
pub type Conditions = Vec<bool>;

/// Why a directive condition could not be decided.
#[derive(Debug, thiserror::Error)]
#[error("the value of ${0} in an @skip or @include condition must be a Boolean")]
pub struct ConditionError(pub String);

/// Normalizes `operation`. `variable` gives a coerced variable's value by name.
pub fn normalize(
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variable: &dyn Fn(&str) -> Option<bool>,
) -> Result<(Arc<Operation>, Conditions), ConditionError> {
    let mut conditions = Conditions::new();
    let mut ctx = Normalizer {
        document,
        variable,
        conditions: &mut conditions,
    };
    let selection = ctx.selection_set(&operation.selection_set)?;
    let variables = operation
        .variables
        .iter()
        .map(|v| VariableDefinition {
            name: v.name.clone(),
            text: v.to_string(),
        })
        .collect();
    Ok((
        Arc::new(Operation {
            kind: operation.operation_type,
            name: operation.name.clone(),
            variables,
            selection,
        }),
        conditions,
    ))
}

struct Normalizer<'a> {
    document: &'a ExecutableDocument,
    variable: &'a dyn Fn(&str) -> Option<bool>,
    conditions: &'a mut Conditions,
}

impl Normalizer<'_> {
    fn included(&mut self, directives: &executable::DirectiveList) -> Result<bool, ConditionError> {
        for (name, keep_when) in [("skip", false), ("include", true)] {
            for directive in directives.get_all(name) {
                let value = match directive
                    .specified_argument_by_name("if")
                    .map(|v| v.as_ref())
                {
                    Some(Value::Boolean(b)) => *b,
                    Some(Value::Variable(v)) => {
                        let b = (self.variable)(v).ok_or_else(|| ConditionError(v.to_string()))?;
                        self.conditions.push(b);
                        b
                    }
                    _ => continue,
                };
                if value != keep_when {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn selection_set(
        &mut self,
        set: &executable::SelectionSet,
    ) -> Result<SelectionSet, ConditionError> {
        let mut out = Vec::with_capacity(set.selections.len());
        self.selections_into(&set.ty, set, &mut out)?;
        Ok(SelectionSet(out))
    }

    fn selections_into(
        &mut self,
        parent: &Name,
        set: &executable::SelectionSet,
        out: &mut Vec<Selection>,
    ) -> Result<(), ConditionError> {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    if !self.included(&field.directives)? {
                        continue;
                    }
                    let selection = self.selection_set(&field.selection_set)?;
                    out.push(Selection::Field(Field {
                        alias: field.alias.clone(),
                        name: field.name.clone(),
                        arguments: field
                            .arguments
                            .iter()
                            .map(|a| (a.name.clone(), a.value.clone()))
                            .collect(),
                        ty: field.ty().clone(),
                        selection,
                    }));
                }
                executable::Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives)? {
                        continue;
                    }
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        self.fragment_into(
                            parent,
                            Some(fragment.type_condition()),
                            &fragment.selection_set,
                            out,
                        )?;
                    }
                }
                executable::Selection::InlineFragment(inline) => {
                    if !self.included(&inline.directives)? {
                        continue;
                    }
                    self.fragment_into(
                        parent,
                        inline.type_condition.as_ref(),
                        &inline.selection_set,
                        out,
                    )?;
                }
            }
        }
        Ok(())
    }

    fn fragment_into(
        &mut self,
        parent: &Name,
        on: Option<&Name>,
        set: &executable::SelectionSet,
        out: &mut Vec<Selection>,
    ) -> Result<(), ConditionError> {
        match on {
            Some(on) if on != parent => {
                let selection = self.selection_set(set)?;
                out.push(Selection::Fragment(Fragment {
                    on: on.clone(),
                    selection,
                }));
                Ok(())
            }
            _ => self.selections_into(parent, set, out),
        }
    }
}

/// Normalizes a field set (`@key`, `@requires`, `@provides` arguments), which has no fragments
/// or conditions.
pub fn normalize_field_set(set: &executable::SelectionSet) -> SelectionSet {
    let document = ExecutableDocument::new();
    let never = |_: &str| None;
    let mut conditions = Conditions::new();
    let mut ctx = Normalizer {
        document: &document,
        variable: &never,
        conditions: &mut conditions,
    };
    ctx.selection_set(set).unwrap_or_default()
}

/// Writes `set` as GraphQL text (`{ a b { c } }`), as subgraph operations carry it.
pub fn write_selection_set(out: &mut String, set: &SelectionSet) {
    out.push('{');
    for (i, selection) in set.0.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match selection {
            Selection::Field(field) => {
                if let Some(alias) = &field.alias {
                    let _ = write!(out, "{alias}:");
                }
                out.push_str(&field.name);
                if !field.arguments.is_empty() {
                    out.push('(');
                    for (j, (name, value)) in field.arguments.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{name}:{}", value.serialize().no_indent());
                    }
                    out.push(')');
                }
                if !field.selection.0.is_empty() {
                    write_selection_set(out, &field.selection);
                }
            }
            Selection::Fragment(fragment) => {
                let _ = write!(out, "...on {}", fragment.on);
                write_selection_set(out, &fragment.selection);
            }
        }
    }
    out.push('}');
}

/// The variables `set` refers to, added to `into` once each.
pub fn collect_variables(set: &SelectionSet, into: &mut Vec<Name>) {
    fn value(v: &Value, into: &mut Vec<Name>) {
        match v {
            Value::Variable(name) if !into.contains(name) => into.push(name.clone()),
            Value::List(items) => items.iter().for_each(|i| value(i, into)),
            Value::Object(fields) => fields.iter().for_each(|(_, i)| value(i, into)),
            _ => {}
        }
    }
    for selection in &set.0 {
        match selection {
            Selection::Field(field) => {
                for (_, v) in &field.arguments {
                    value(v, into);
                }
                collect_variables(&field.selection, into);
            }
            Selection::Fragment(fragment) => collect_variables(&fragment.selection, into),
        }
    }
}
