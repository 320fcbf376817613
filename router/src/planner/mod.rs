//! The query planner: a pure function from the supergraph model and a normalized operation to
//! a query plan. No I/O, no panics on any input: what cannot be planned is a [`PlanError`].
//!
//! - [`operation`]: the normalized operation (fragments inlined, conditions decided).
//! - [`graph`]: what each subgraph can resolve, read from the join directives.
//! - `build`: fetch groups, from walking the operation.
//! - `schedule`: the order fetch groups run in, by their dependencies.
//! - [`plan`]: the plan tree, and how it prints.

mod alias;
pub mod budget;
mod build;
mod everything;
pub mod graph;
pub mod operation;
pub mod plan;
mod schedule;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use apollo_compiler::ast::OperationType;

pub use alias::{plain_key, rename_back};
pub use budget::Budget;
use build::{Builder, GroupId};
pub use everything::everything;
pub use graph::Graph;
use operation::{Operation, collect_variables, write_selection_set};
pub use plan::{
    ContextSource, ContextValue, FetchNode, PathSegment, PlanNode, QueryPlan, Representation,
    Unresolvable,
};

/// Why an operation could not be planned.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("the supergraph has no {0} root type")]
    NoRootType(OperationType),
    #[error("no subgraph can resolve {0}")]
    Unresolvable(String),
    #[error("the operation needs too many nested entity jumps to plan")]
    TooDeep,
    #[error("planning the operation needs more work than the router allows")]
    BudgetExceeded,
}

/// Plans `operation` against the supergraph described by `graph` and `schema`, with no limit
/// on the work it may take.
pub fn plan(
    graph: &Graph,
    schema: &apollo_compiler::Schema,
    operation: &Operation,
) -> Result<QueryPlan, PlanError> {
    plan_within(graph, schema, operation, &Budget::unlimited())
}

/// Plans `operation` within `budget`.
pub fn plan_within(
    graph: &Graph,
    schema: &apollo_compiler::Schema,
    operation: &Operation,
    budget: &Budget,
) -> Result<QueryPlan, PlanError> {
    let mut builder = Builder::new(graph, schema, budget);
    // A search cut short by the budget looks like an unreachable field: say what happened.
    let roots = builder.plan_root(operation).map_err(|e| {
        if budget.spent() {
            PlanError::BudgetExceeded
        } else {
            e
        }
    })?;
    if budget.spent() {
        return Err(PlanError::BudgetExceeded);
    }
    let groups = &builder.groups;
    let nodes: Vec<PlanNode> = match operation.kind {
        OperationType::Mutation => roots
            .iter()
            .filter_map(|&root| {
                let members: BTreeSet<GroupId> = descendants(groups, root);
                scheduled(graph, schema, operation, groups, &members)
            })
            .collect(),
        _ => {
            let members: BTreeSet<GroupId> = (0..groups.len()).collect();
            scheduled(graph, schema, operation, groups, &members)
                .into_iter()
                .collect()
        }
    };
    let root = match nodes.len() {
        0 => None,
        1 => nodes.into_iter().next(),
        _ => Some(PlanNode::Sequence { nodes }),
    };
    Ok(QueryPlan {
        root,
        unresolvable: std::mem::take(&mut builder.unresolvable),
        refused: std::mem::take(&mut builder.refused),
    })
}

/// `root` and every group that (transitively) depends on it.
fn descendants(groups: &[build::Group], root: GroupId) -> BTreeSet<GroupId> {
    let mut set = BTreeSet::from([root]);
    loop {
        let before = set.len();
        for (id, group) in groups.iter().enumerate() {
            if group.deps.iter().any(|d| set.contains(d)) {
                set.insert(id);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

/// The groups in `members` as a tree in which each fetch waits for those it depends on.
fn scheduled(
    graph: &Graph,
    schema: &apollo_compiler::Schema,
    operation: &Operation,
    groups: &[build::Group],
    members: &BTreeSet<GroupId>,
) -> Option<PlanNode> {
    schedule::schedule(groups, members, |group| {
        (!group.selection.0.is_empty()).then(|| fetch_node(graph, schema, operation, group))
    })
}

fn fetch_node(
    graph: &Graph,
    schema: &apollo_compiler::Schema,
    operation: &Operation,
    group: &build::Group,
) -> PlanNode {
    let is_entity = group.parent.is_some();
    let mut selection = group.selection.clone();
    let root_type = schema
        .root_operation(operation.kind)
        .map(|n| n.to_string())
        .unwrap_or_default();
    let renames = alias::dealias(
        graph,
        schema,
        group.subgraph,
        &root_type,
        is_entity,
        &mut selection,
    );
    let mut variables = Vec::new();
    collect_variables(&selection, &mut variables);
    let gate = match gate(&selection) {
        top if group.context.is_empty() => top,
        top if top.is_empty() => vec![group.context.clone()],
        top => top
            .into_iter()
            .map(|own| group.context.iter().cloned().chain(own).collect())
            .collect(),
    };
    let context_definitions: Vec<String> = group
        .contexts
        .iter()
        .map(|c| format!("${}:{}", c.variable, c.ty))
        .collect();
    let definitions: Vec<&str> = operation
        .variables
        .iter()
        .filter(|v| variables.contains(&v.name))
        .map(|v| v.text.as_str())
        .chain(context_definitions.iter().map(String::as_str))
        .collect();
    // The plan's own variables are not the client's: the executor fills them in.
    variables.retain(|v| !group.contexts.iter().any(|c| &c.variable == v));
    let representations = representations_variable(operation);
    let service_name = graph.subgraphs[group.subgraph].name.clone();
    let mut text = String::new();
    let keyword = match (is_entity, operation.kind) {
        (false, OperationType::Mutation) => "mutation",
        (false, OperationType::Subscription) => "subscription",
        _ => "query",
    };
    text.push_str(keyword);
    let operation_name = operation
        .name
        .as_ref()
        .map(|name| format!("{name}__{}", sanitize(&service_name)));
    if let Some(name) = &operation_name {
        text.push(' ');
        text.push_str(name);
    }
    if is_entity || !definitions.is_empty() {
        text.push('(');
        let declaration = format!("${representations}:[_Any!]!");
        let mut parts: Vec<&str> = Vec::new();
        if is_entity {
            parts.push(&declaration);
        }
        parts.extend(definitions.iter().copied());
        text.push_str(&parts.join(","));
        text.push(')');
    }
    let mut entity_selection = String::new();
    if is_entity {
        write_selection_set(&mut entity_selection, &selection);
        let _ = write!(
            text,
            "{{_entities(representations:${representations}){entity_selection}}}"
        );
    } else {
        write_selection_set(&mut text, &selection);
    }
    let fetch = PlanNode::Fetch(FetchNode {
        subgraph: group.subgraph,
        service_name,
        kind: if is_entity {
            OperationType::Query
        } else {
            operation.kind
        },
        variable_usages: variables,
        operation: text,
        renames,
        representations_variable: representations,
        requires: group
            .reps
            .iter()
            .map(|(typename, matches, selection)| Representation {
                match_types: matches.clone(),
                typename: typename.clone(),
                selection: selection.clone(),
            })
            .collect(),
        gate,
        contexts: group
            .contexts
            .iter()
            .map(|c| ContextValue {
                variable: c.variable.clone(),
                ty: c.ty.clone(),
                from: c.from.clone(),
            })
            .collect(),
        operation_name,
        definitions: if is_entity {
            definitions.iter().map(|d| (*d).to_owned()).collect()
        } else {
            Vec::new()
        },
        entity_selection,
    });
    if is_entity {
        PlanNode::Flatten {
            path: group.path.clone(),
            node: Box::new(fetch),
        }
    } else {
        fetch
    }
}

/// The conditions of each field `selection` asks for at its top (in fragments too, as entity
/// fetches have them), or nothing when one of them is unconditional.
fn gate(selection: &operation::SelectionSet) -> Vec<Vec<operation::Condition>> {
    fn go(set: &operation::SelectionSet, out: &mut Vec<Vec<operation::Condition>>) -> bool {
        set.0.iter().all(|item| match item {
            operation::Selection::Field(field) if field.conditions.is_empty() => false,
            operation::Selection::Field(field) => {
                if !out.contains(&field.conditions) {
                    out.push(field.conditions.clone());
                }
                true
            }
            operation::Selection::Fragment(fragment) => go(&fragment.selection, out),
        })
    }
    let mut out = Vec::new();
    if go(selection, &mut out) {
        out
    } else {
        Vec::new()
    }
}

/// `representations`, or, when the client's operation has a variable of that name,
/// `representations_<n>` with the first `n` it has none of.
fn representations_variable(operation: &Operation) -> apollo_compiler::Name {
    let taken = |name: &str| operation.variables.iter().any(|v| v.name == name);
    let mut name = String::from("representations");
    let mut n = 0;
    while taken(&name) {
        n += 1;
        name = format!("representations_{n}");
    }
    apollo_compiler::Name::new(&name).expect("a GraphQL name")
}

/// Subgraph names become part of operation names, which allow only `[_A-Za-z0-9]`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use apollo_compiler::ast::Type;
    use apollo_compiler::{Name, name};

    use super::gate;
    use super::operation::{Condition, Field, Fragment, Selection, SelectionSet};

    fn field(name: Name, conditions: &[(&str, bool)]) -> Selection {
        Selection::Field(Field {
            alias: None,
            client_key: None,
            name,
            arguments: Vec::new(),
            ty: Type::Named(name!("String")),
            conditions: conditions
                .iter()
                .map(|(v, include)| Condition {
                    variable: Name::new_unchecked(v),
                    include: *include,
                })
                .collect(),
            selection: SelectionSet::default(),
        })
    }

    fn texts(gate: Vec<Vec<Condition>>) -> Vec<String> {
        gate.iter()
            .map(|all| {
                all.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn a_fetch_with_one_unconditional_field_is_always_sent() {
        let selection = SelectionSet(vec![
            field(name!("a"), &[("x", true)]),
            field(name!("b"), &[]),
        ]);
        assert!(gate(&selection).is_empty());
    }

    #[test]
    fn a_fetch_of_conditional_fields_waits_for_one_of_their_conditions() {
        let selection = SelectionSet(vec![
            field(name!("a"), &[("x", true)]),
            field(name!("b"), &[("x", true)]),
            field(name!("c"), &[("y", false), ("x", true)]),
        ]);
        assert_eq!(
            texts(gate(&selection)),
            ["@include(if:$x)", "@skip(if:$y) @include(if:$x)"]
        );
    }

    #[test]
    fn entity_fragments_are_looked_into() {
        let selection = SelectionSet(vec![Selection::Fragment(Fragment {
            on: name!("T"),
            selection: SelectionSet(vec![field(name!("a"), &[("x", false)])]),
        })]);
        assert_eq!(texts(gate(&selection)), ["@skip(if:$x)"]);
        let open = SelectionSet(vec![Selection::Fragment(Fragment {
            on: name!("T"),
            selection: SelectionSet(vec![
                field(name!("a"), &[("x", false)]),
                field(name!("b"), &[]),
            ]),
        })]);
        assert!(gate(&open).is_empty());
    }
}
