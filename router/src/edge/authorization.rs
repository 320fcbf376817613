//! The supergraph's authorization directives: `@authenticated`, `@requiresScopes` and `@policy`
//! on fields and types.
//!
//! [`Rules`] reads them once per supergraph. [`guards`] finds, once per normalized operation
//! (it is cached with the plan), every selection a rule applies to. Per request, each guard is
//! decided for the caller, and the selections they deny are [`remove`]d from the operation
//! before planning, so no subgraph is ever asked for them.
//!
//! A field is guarded by the rules on its definition and on the type it returns; an inline
//! fragment by the rules on its type condition. `@requiresScopes(scopes: [[a, b], [c]])` holds
//! when the caller has all of one inner list (`a` and `b`, or `c`); `@policy` is the same over
//! policy names, which a configured hook decides. Both imply `@authenticated`.

use std::collections::HashMap;

use apollo_compiler::ast::{Directive, Value};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use crate::executor::shape::Withheld;
use crate::planner::operation::{Field, Operation, Selection, SelectionSet};
use crate::supergraph::links::Links;

/// What a schema element asks of the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    pub authenticated: bool,
    /// One entry per `@requiresScopes`: alternatives, each a set of scopes held together.
    pub scopes: Vec<Vec<Vec<String>>>,
    /// One entry per `@policy`, shaped like `scopes`.
    pub policies: Vec<Vec<Vec<String>>>,
}

impl Requirement {
    fn is_empty(&self) -> bool {
        !self.authenticated && self.scopes.is_empty() && self.policies.is_empty()
    }

    fn add(&mut self, other: &Requirement) {
        self.authenticated |= other.authenticated;
        self.scopes.extend(other.scopes.iter().cloned());
        self.policies.extend(other.policies.iter().cloned());
    }

    /// Whether a caller with `scopes` and the allowed `policies` meets this requirement.
    pub fn met_by(&self, caller: &Caller<'_>) -> bool {
        let needs_caller =
            self.authenticated || !self.scopes.is_empty() || !self.policies.is_empty();
        if needs_caller && !caller.authenticated {
            return false;
        }
        let holds = |sets: &[Vec<Vec<String>>], has: &dyn Fn(&str) -> bool| {
            sets.iter()
                .all(|any| any.iter().any(|all| all.iter().all(|item| has(item))))
        };
        holds(&self.scopes, caller.scope) && holds(&self.policies, caller.policy)
    }
}

/// The caller as authorization sees it.
pub struct Caller<'a> {
    pub authenticated: bool,
    /// Whether the caller holds a scope.
    pub scope: &'a dyn Fn(&str) -> bool,
    /// Whether a policy allows the caller.
    pub policy: &'a dyn Fn(&str) -> bool,
}

/// The authorization rules of a supergraph.
#[derive(Debug, Default)]
pub struct Rules {
    types: HashMap<Name, Requirement>,
    fields: HashMap<(Name, Name), Requirement>,
}

/// The names the three directives have in a supergraph.
struct DirectiveNames {
    authenticated: String,
    requires_scopes: String,
    policy: String,
}

impl DirectiveNames {
    /// Linked specifications name their directives through the link; composers that do not
    /// link them write the plain names.
    fn of(links: &Links) -> Self {
        let name = |spec: &str| {
            links
                .get(spec)
                .map_or_else(|| spec.to_owned(), |link| link.local_name(spec))
        };
        Self {
            authenticated: name("authenticated"),
            requires_scopes: name("requiresScopes"),
            policy: name("policy"),
        }
    }

    fn read<'d>(&self, directives: impl IntoIterator<Item = &'d Directive>) -> Requirement {
        let mut requirement = Requirement::default();
        for directive in directives {
            let name = directive.name.as_str();
            if name == self.authenticated {
                requirement.authenticated = true;
            } else if name == self.requires_scopes {
                requirement.scopes.push(nested_strings(
                    directive
                        .specified_argument_by_name("scopes")
                        .map(|v| v.as_ref()),
                ));
            } else if name == self.policy {
                requirement.policies.push(nested_strings(
                    directive
                        .specified_argument_by_name("policies")
                        .map(|v| v.as_ref()),
                ));
            }
        }
        requirement
    }
}

/// `[[String]]` as lists of strings; anything else as no alternatives (which nobody meets).
fn nested_strings(value: Option<&Value>) -> Vec<Vec<String>> {
    let Some(Value::List(outer)) = value else {
        return Vec::new();
    };
    outer
        .iter()
        .map(|inner| match inner.as_ref() {
            Value::List(items) => items
                .iter()
                .filter_map(|item| match item.as_ref() {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        })
        .collect()
}

impl Rules {
    /// Reads the rules of `schema` (the whole supergraph, not the API schema, which drops
    /// the directives).
    pub fn new(schema: &Schema, links: &Links) -> Self {
        let names = DirectiveNames::of(links);
        let mut rules = Rules::default();
        for (type_name, ty) in &schema.types {
            let own = names.read(ty.directives().iter().map(|d| &***d));
            if !own.is_empty() {
                rules.types.insert(type_name.clone(), own);
            }
            let fields = match ty {
                ExtendedType::Object(object) => &object.fields,
                ExtendedType::Interface(interface) => &interface.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let requirement = names.read(field.directives.iter().map(|d| &**d));
                if !requirement.is_empty() {
                    rules
                        .fields
                        .insert((type_name.clone(), field_name.clone()), requirement);
                }
            }
        }
        rules
    }

    /// Whether the supergraph has no authorization directives at all.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.fields.is_empty()
    }
}

/// A guarded selection of an operation.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Where it is: the index of each selection from the root.
    pub at: Vec<usize>,
    /// Its response path (the client's response keys; fragments add nothing).
    pub path: Vec<Name>,
    pub requirement: Requirement,
    /// The `@skip`/`@include` conditions it and the fields above it are selected under: a
    /// skipped selection is not denied.
    pub conditions: Vec<crate::planner::operation::Condition>,
}

/// Every guarded selection of `operation`, outermost first.
pub fn guards(rules: &Rules, schema: &Schema, operation: &Operation) -> Vec<Guard> {
    let mut out = Vec::new();
    if rules.is_empty() {
        return out;
    }
    if let Some(root) = schema.root_operation(operation.kind) {
        let mut walk = Walk {
            rules,
            at: Vec::new(),
            path: Vec::new(),
            conditions: Vec::new(),
            out: &mut out,
        };
        walk.selection_set(root, &operation.selection);
    }
    out
}

struct Walk<'a> {
    rules: &'a Rules,
    at: Vec<usize>,
    path: Vec<Name>,
    conditions: Vec<crate::planner::operation::Condition>,
    out: &'a mut Vec<Guard>,
}

impl Walk<'_> {
    fn selection_set(&mut self, parent: &Name, set: &SelectionSet) {
        for (index, selection) in set.0.iter().enumerate() {
            self.at.push(index);
            match selection {
                Selection::Field(field) => self.field(parent, field),
                Selection::Fragment(fragment) => {
                    if let Some(requirement) = self.rules.types.get(&fragment.on) {
                        // The fragment's own conditions sit on its fields: those they share.
                        let depth = self.conditions.len();
                        self.conditions
                            .extend(shared_conditions(&fragment.selection));
                        self.guard(requirement.clone());
                        self.conditions.truncate(depth);
                    }
                    self.selection_set(&fragment.on, &fragment.selection);
                }
            }
            self.at.pop();
        }
    }

    fn field(&mut self, parent: &Name, field: &Field) {
        self.path.push(field.client_key().clone());
        let depth = self.conditions.len();
        self.conditions.extend(field.conditions.iter().cloned());
        let mut requirement = Requirement::default();
        if let Some(own) = self.rules.fields.get(&(parent.clone(), field.name.clone())) {
            requirement.add(own);
        }
        let returns = field.ty.inner_named_type();
        if let Some(of_type) = self.rules.types.get(returns) {
            requirement.add(of_type);
        }
        if !requirement.is_empty() {
            self.guard(requirement);
        }
        self.selection_set(returns, &field.selection);
        self.conditions.truncate(depth);
        self.path.pop();
    }

    fn guard(&mut self, requirement: Requirement) {
        self.out.push(Guard {
            at: self.at.clone(),
            path: self.path.clone(),
            requirement,
            conditions: self.conditions.clone(),
        });
    }
}

/// The conditions every field of `set` (fragments flattened) is selected under.
fn shared_conditions(set: &SelectionSet) -> Vec<crate::planner::operation::Condition> {
    fn fields<'s>(set: &'s SelectionSet, out: &mut Vec<&'s Field>) {
        for item in &set.0 {
            match item {
                Selection::Field(field) => out.push(field),
                Selection::Fragment(fragment) => fields(&fragment.selection, out),
            }
        }
    }
    let mut all = Vec::new();
    fields(set, &mut all);
    let Some((first, rest)) = all.split_first() else {
        return Vec::new();
    };
    first
        .conditions
        .iter()
        .filter(|c| rest.iter().all(|f| f.conditions.contains(c)))
        .cloned()
        .collect()
}

/// The policy names the guards refer to, once each.
pub fn policies<'g>(guards: impl IntoIterator<Item = &'g Guard>) -> Vec<String> {
    let mut names: Vec<String> = guards
        .into_iter()
        .flat_map(|g| g.requirement.policies.iter().flatten().flatten().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Which guards `caller` fails, as a mask over `guards`, leaving out guards inside a denied
/// one (the outer denial already removes them). Whatever the `@skip`/`@include` conditions,
/// so that the mask, and the filtered plan made for it, depends on the caller alone.
pub fn decide(guards: &[Guard], caller: &Caller<'_>) -> Vec<bool> {
    let mut denied = vec![false; guards.len()];
    for (i, guard) in guards.iter().enumerate() {
        let inside_denied = guards[..i]
            .iter()
            .zip(&denied)
            .any(|(outer, &d)| d && guard.at.starts_with(&outer.at));
        if !inside_denied && !guard.requirement.met_by(caller) {
            denied[i] = true;
        }
    }
    denied
}

/// `operation` without the denied selections. A selection set left empty asks for
/// `__typename` instead, so the operation stays valid; the response shows its fields as null.
pub fn remove(operation: &Operation, guards: &[Guard], denied: &[bool]) -> Operation {
    let mut out = operation.clone();
    // Later positions first, so removing one leaves the indexes of the others valid.
    let mut doomed: Vec<&Vec<usize>> = guards
        .iter()
        .zip(denied)
        .filter(|(_, d)| **d)
        .map(|(g, _)| &g.at)
        .collect();
    doomed.sort_unstable_by(|a, b| b.cmp(a));
    for at in doomed {
        remove_at(&mut out.selection, at);
    }
    out
}

/// The denied selections as addresses in `operation` (which must outlive their use), so the
/// response answers them null even if a subgraph sent them anyway.
pub fn withheld(operation: &Operation, guards: &[Guard], denied: &[bool]) -> Withheld {
    let mut out = Withheld::default();
    for (guard, _) in guards.iter().zip(denied).filter(|(_, d)| **d) {
        match selection_at(&operation.selection, &guard.at) {
            Some(Selection::Field(field)) => out.fields.push(std::ptr::from_ref(field) as usize),
            Some(Selection::Fragment(fragment)) => {
                out.fragments.push(std::ptr::from_ref(fragment) as usize);
            }
            None => {}
        }
    }
    out
}

/// The selection at index path `at` below `set`.
fn selection_at<'o>(set: &'o SelectionSet, at: &[usize]) -> Option<&'o Selection> {
    let (&first, rest) = at.split_first()?;
    let selection = set.0.get(first)?;
    if rest.is_empty() {
        return Some(selection);
    }
    selection_at(children(selection), rest)
}

fn children(selection: &Selection) -> &SelectionSet {
    match selection {
        Selection::Field(field) => &field.selection,
        Selection::Fragment(fragment) => &fragment.selection,
    }
}

fn remove_at(set: &mut SelectionSet, at: &[usize]) {
    let Some((&first, rest)) = at.split_first() else {
        return;
    };
    if rest.is_empty() {
        if first < set.0.len() {
            set.0.remove(first);
        }
        return;
    }
    let Some(selection) = set.0.get_mut(first) else {
        return;
    };
    let child = match selection {
        Selection::Field(field) => &mut field.selection,
        Selection::Fragment(fragment) => &mut fragment.selection,
    };
    remove_at(child, rest);
    if child.0.is_empty() {
        child.0.push(Selection::Field(typename()));
    }
}

fn typename() -> Field {
    Field {
        alias: None,
        client_key: None,
        name: apollo_compiler::name!("__typename"),
        arguments: Vec::new(),
        ty: apollo_compiler::ast::Type::NonNullNamed(apollo_compiler::name!("String")),
        conditions: Vec::new(),
        selection: SelectionSet::default(),
    }
}
