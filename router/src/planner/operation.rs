//! The normalized operation the planner and the response shaper work on: named fragments
//! inlined, and each field carrying its schema type and the `@skip`/`@include` conditions on
//! variables it is selected under. Constant conditions are decided here; variable ones are
//! kept, so one plan serves every value of them: subgraph operations carry the directives,
//! a fetch whose every field is skipped is not sent, and the response, the cost and the
//! authorization checks leave skipped fields out (ADR 0022).

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use apollo_compiler::ast::{OperationType, Type, Value};
use apollo_compiler::executable::{self, ExecutableDocument};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Node, Schema};

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
    /// The alias subgraph operations select the field under.
    pub alias: Option<Name>,
    /// The client's response key, when subgraph operations use another one (a reserved key:
    /// the client's could meet a key the planner adds).
    pub client_key: Option<Name>,
    pub name: Name,
    pub arguments: Vec<(Name, Node<Value>)>,
    /// The field's type as declared on its parent type.
    pub ty: Type,
    /// Selected only when all of these hold: its own directives and those of the fragments
    /// around it at its level (a field's own conditions are not repeated on its children).
    pub conditions: Vec<Condition>,
    pub selection: SelectionSet,
}

/// An `@include(if: $variable)` (`include`) or `@skip(if: $variable)` (not `include`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Condition {
    pub variable: Name,
    pub include: bool,
}

impl std::fmt::Display for Condition {
    /// As the directive reads in a subgraph operation: `@include(if:$v)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = if self.include { "include" } else { "skip" };
        write!(f, "@{name}(if:${})", self.variable)
    }
}

/// Whether every one of `conditions` holds for the coerced `variables` (a variable that is
/// not a Boolean counts as false; [`Operation::check_conditions`] refuses those up front).
pub fn holds(conditions: &[Condition], variables: &apollo_compiler::response::JsonMap) -> bool {
    conditions.iter().all(|c| {
        matches!(
            variables.get(c.variable.as_str()),
            Some(apollo_compiler::response::JsonValue::Bool(b)) if *b == c.include
        )
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fragment {
    pub on: Name,
    pub selection: SelectionSet,
}

impl Field {
    /// The key of this field in subgraph operations and in the merged data.
    pub fn key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }

    /// The key of this field in the client's response.
    pub fn client_key(&self) -> &Name {
        self.client_key.as_ref().unwrap_or_else(|| self.key())
    }

    /// The alias the client wrote, if any.
    pub fn client_alias(&self) -> Option<&Name> {
        match &self.client_key {
            Some(key) => (*key != self.name).then_some(key),
            None => self.alias.as_ref(),
        }
    }

    /// Whether `other` selects the same field with the same arguments under the same
    /// conditions (so the two merge).
    pub fn same_field(&self, other: &Field) -> bool {
        self.key() == other.key()
            && self.name == other.name
            && self.arguments == other.arguments
            && self.conditions == other.conditions
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
    /// The variables `@skip`/`@include` conditions read, once each.
    pub condition_variables: Vec<Name>,
}

impl Operation {
    /// Refuses variables read by conditions that are not Booleans.
    pub fn check_conditions(
        &self,
        variables: &apollo_compiler::response::JsonMap,
    ) -> Result<(), ConditionError> {
        for name in &self.condition_variables {
            if !matches!(
                variables.get(name.as_str()),
                Some(apollo_compiler::response::JsonValue::Bool(_))
            ) {
                return Err(ConditionError(name.to_string()));
            }
        }
        Ok(())
    }

    /// A response path of the merged data (subgraph-side keys, as subgraph errors and the
    /// plan's paths have them) as the client's response has it: reserved keys and the aliases
    /// of conflicting fields become the client's keys. A key no client field has (a field the
    /// planner added) ends the path at its parent.
    pub fn client_path(&self, path: &[crate::json::Value]) -> Vec<crate::json::Value> {
        use crate::json::Value;
        let mut sets: Vec<&SelectionSet> = vec![&self.selection];
        let mut out = Vec::with_capacity(path.len());
        for segment in path {
            let Value::String(key) = segment else {
                out.push(segment.clone());
                continue;
            };
            let key = key.as_str();
            let key = super::alias::plain_key(key);
            let mut client: Option<&Name> = None;
            let mut next = Vec::new();
            for set in &sets {
                fields_at(set, &mut |field| {
                    if field.key() == key {
                        client = Some(field.client_key());
                        next.push(&field.selection);
                    }
                });
            }
            let Some(client) = client else { break };
            out.push(Value::String(client.as_str().into()));
            sets = next;
        }
        out
    }

    /// Rewrites the `path` of each error object in `errors` with [`Operation::client_path`].
    /// For errors from the executor, whose paths are subgraph-side.
    pub fn client_error_paths(&self, errors: &mut [crate::json::Value]) {
        use crate::json::Value;
        for error in errors {
            if let Value::Object(error) = error
                && let Some(Value::Array(path)) = error.get_mut("path")
            {
                *path = self.client_path(path);
            }
        }
    }
}

/// Calls `f` with every field of `set`, in fragments too, whatever their type conditions.
fn fields_at<'s>(set: &'s SelectionSet, f: &mut impl FnMut(&'s Field)) {
    for item in &set.0 {
        match item {
            Selection::Field(field) => f(field),
            Selection::Fragment(fragment) => fields_at(&fragment.selection, f),
        }
    }
}

/// Why a directive condition could not be decided.
#[derive(Debug, thiserror::Error)]
#[error("the value of ${0} in an @skip or @include condition must be a Boolean")]
pub struct ConditionError(pub String);

/// Normalizes `operation` against the supergraph `schema` (every field, inaccessible ones
/// too, since keys may be made of them).
pub fn normalize(
    schema: &Schema,
    document: &ExecutableDocument,
    operation: &executable::Operation,
) -> Arc<Operation> {
    let mut ctx = Normalizer {
        schema: Some(schema),
        field_names: HashMap::new(),
        document,
        scope: Vec::new(),
        condition_variables: Vec::new(),
    };
    let selection = ctx.selection_set(&operation.selection_set);
    let variables = operation
        .variables
        .iter()
        .map(|v| VariableDefinition {
            name: v.name.clone(),
            text: v.to_string(),
        })
        .collect();
    Arc::new(Operation {
        kind: operation.operation_type,
        name: operation.name.clone(),
        variables,
        selection,
        condition_variables: ctx.condition_variables,
    })
}

struct Normalizer<'a> {
    /// `None` for field sets, whose fields are the planner's own.
    schema: Option<&'a Schema>,
    /// Per selection-level type: the fields of it and of its possible types.
    field_names: HashMap<Name, HashSet<Name>>,
    document: &'a ExecutableDocument,
    /// The variable conditions of the fragments around the current selection, at its level.
    scope: Vec<Condition>,
    condition_variables: Vec<Name>,
}

impl Normalizer<'_> {
    /// The variable conditions of `directives`, or `None` when a constant one leaves the
    /// selection out.
    fn conditions(&mut self, directives: &executable::DirectiveList) -> Option<Vec<Condition>> {
        let mut out = Vec::new();
        for (name, include) in [("skip", false), ("include", true)] {
            for directive in directives.get_all(name) {
                match directive
                    .specified_argument_by_name("if")
                    .map(|v| v.as_ref())
                {
                    Some(Value::Boolean(b)) if *b != include => return None,
                    Some(Value::Variable(v)) => {
                        if !self.condition_variables.contains(v) {
                            self.condition_variables.push(v.clone());
                        }
                        let condition = Condition {
                            variable: v.clone(),
                            include,
                        };
                        if !out.contains(&condition) && !self.scope.contains(&condition) {
                            out.push(condition);
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(out)
    }

    /// The selection set of a field (or of the operation): a new level of the response.
    fn selection_set(&mut self, set: &executable::SelectionSet) -> SelectionSet {
        // A new level: the conditions around the field are the field's, not its children's.
        let outer = std::mem::take(&mut self.scope);
        let out = self.level_set(&set.ty, set);
        self.scope = outer;
        out
    }

    /// A selection set at the response level of type `level`: the field's own, or a fragment's
    /// in it.
    fn level_set(&mut self, level: &Name, set: &executable::SelectionSet) -> SelectionSet {
        let mut out = Vec::with_capacity(set.selections.len());
        self.selections_into(level, &set.ty, set, &mut out);
        SelectionSet(out)
    }

    /// The alias to select `field` under in subgraph operations, and the client's key when
    /// that alias is a reserved key. A client key is reserved when it has the shape of the
    /// planner's own keys, or when it is `__typename` or a field of the level's type or of
    /// one of its possible types but not the field's own name: there the planner may add that
    /// field (a key, a requirement, `__typename`) beside the client's. The rule depends on the
    /// level, not the fragment a field sits in, so one client key has one subgraph key on
    /// every object of the level.
    fn keys(&mut self, level: &Name, field: &executable::Field) -> (Option<Name>, Option<Name>) {
        if self.schema.is_none() {
            return (field.alias.clone(), None);
        }
        let key = field.response_key();
        let reserve = super::alias::is_internal(key)
            || (*key != field.name && (key == "__typename" || self.level_has_field(level, key)));
        if reserve {
            (Some(super::alias::reserved_key(key)), Some(key.clone()))
        } else {
            (field.alias.clone(), None)
        }
    }

    fn level_has_field(&mut self, level: &Name, name: &Name) -> bool {
        let Some(schema) = self.schema else {
            return false;
        };
        self.field_names
            .entry(level.clone())
            .or_insert_with(|| level_fields(schema, level))
            .contains(name)
    }

    fn selections_into(
        &mut self,
        level: &Name,
        parent: &Name,
        set: &executable::SelectionSet,
        out: &mut Vec<Selection>,
    ) {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    let Some(own) = self.conditions(&field.directives) else {
                        continue;
                    };
                    let selection = self.selection_set(&field.selection_set);
                    let mut conditions = self.scope.clone();
                    conditions.extend(own);
                    // In one order, so that the same conditions written in any order merge.
                    conditions.sort_unstable();
                    let (alias, client_key) = self.keys(level, field);
                    out.push(Selection::Field(Field {
                        alias,
                        client_key,
                        name: field.name.clone(),
                        arguments: field
                            .arguments
                            .iter()
                            .map(|a| (a.name.clone(), a.value.clone()))
                            .collect(),
                        ty: field.ty().clone(),
                        conditions,
                        selection,
                    }));
                }
                executable::Selection::FragmentSpread(spread) => {
                    let Some(own) = self.conditions(&spread.directives) else {
                        continue;
                    };
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        let depth = self.scope.len();
                        self.scope.extend(own);
                        self.fragment_into(
                            level,
                            parent,
                            Some(fragment.type_condition()),
                            &fragment.selection_set,
                            out,
                        );
                        self.scope.truncate(depth);
                    }
                }
                executable::Selection::InlineFragment(inline) => {
                    let Some(own) = self.conditions(&inline.directives) else {
                        continue;
                    };
                    let depth = self.scope.len();
                    self.scope.extend(own);
                    self.fragment_into(
                        level,
                        parent,
                        inline.type_condition.as_ref(),
                        &inline.selection_set,
                        out,
                    );
                    self.scope.truncate(depth);
                }
            }
        }
    }

    fn fragment_into(
        &mut self,
        level: &Name,
        parent: &Name,
        on: Option<&Name>,
        set: &executable::SelectionSet,
        out: &mut Vec<Selection>,
    ) {
        match on {
            Some(on) if on != parent => {
                let selection = self.level_set(level, set);
                out.push(Selection::Fragment(Fragment {
                    on: on.clone(),
                    selection,
                }));
            }
            _ => self.selections_into(level, parent, set, out),
        }
    }
}

/// The field names of `ty` and, for an interface or union, of the object types it may be.
fn level_fields(schema: &Schema, ty: &Name) -> HashSet<Name> {
    let mut out = HashSet::new();
    let mut add = |ty: &ExtendedType| match ty {
        ExtendedType::Object(o) => out.extend(o.fields.keys().cloned()),
        ExtendedType::Interface(i) => out.extend(i.fields.keys().cloned()),
        _ => {}
    };
    match schema.types.get(ty) {
        Some(own @ ExtendedType::Interface(_)) => {
            add(own);
            for candidate in schema.types.values() {
                if let ExtendedType::Object(o) = candidate
                    && o.implements_interfaces.contains(ty)
                {
                    add(candidate);
                }
            }
        }
        Some(ExtendedType::Union(u)) => {
            for member in &u.members {
                if let Some(member) = schema.types.get(&member.name) {
                    add(member);
                }
            }
        }
        Some(own) => add(own),
        None => {}
    }
    out
}

/// Normalizes a field set (`@key`, `@requires`, `@provides` arguments), which has no fragments
/// or conditions.
pub fn normalize_field_set(set: &executable::SelectionSet) -> SelectionSet {
    let document = ExecutableDocument::new();
    let mut ctx = Normalizer {
        schema: None,
        field_names: HashMap::new(),
        document: &document,
        scope: Vec::new(),
        condition_variables: Vec::new(),
    };
    ctx.selection_set(set)
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
                // `@include` and `@skip` are not repeatable: the field carries the first of
                // each kind; more of a kind wrap it in inline fragments without a type.
                let mut seen = [false, false];
                let mut own = Vec::with_capacity(field.conditions.len());
                let mut wrappers = 0;
                for condition in &field.conditions {
                    if std::mem::replace(&mut seen[usize::from(condition.include)], true) {
                        let _ = write!(out, "...{condition}{{");
                        wrappers += 1;
                    } else {
                        own.push(condition);
                    }
                }
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
                for condition in own {
                    let _ = write!(out, "{condition}");
                }
                if !field.selection.0.is_empty() {
                    write_selection_set(out, &field.selection);
                }
                for _ in 0..wrappers {
                    out.push('}');
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
                for condition in &field.conditions {
                    if !into.contains(&condition.variable) {
                        into.push(condition.variable.clone());
                    }
                }
                collect_variables(&field.selection, into);
            }
            Selection::Fragment(fragment) => collect_variables(&fragment.selection, into),
        }
    }
}
