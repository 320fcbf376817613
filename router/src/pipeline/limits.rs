//! Step 3b: operation limits. Depth, aliases, root fields and the total number of selections
//! are measured on the document as it would be expanded, without expanding it: each named
//! fragment is measured once and its sizes added wherever it is spread, so a small document
//! whose fragments spread each other many times is refused in time linear in its length,
//! before normalization or planning could do exponential work. Directives and tokens are
//! counted on the document; the cost estimate follows `@cost` and `@listSize` where the
//! supergraph has them. A refused operation never reaches a subgraph.

use std::collections::HashMap;

use apollo_compiler::ast::{Type, Value as AstValue};
use apollo_compiler::executable::{self, ExecutableDocument};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use super::request::RequestError;
use crate::config::LimitsConfig;
use crate::planner::operation::{Field, Operation, Selection, SelectionSet};

/// What the limits look at, measured once per operation (fragments as if expanded).
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    pub depth: usize,
    pub aliases: usize,
    pub root_fields: usize,
    /// Every field selection, `__typename` included, with fragments expanded.
    pub selections: usize,
}

/// The sizes of one selection set, fragments expanded (all sums saturate).
#[derive(Debug, Clone, Copy, Default)]
struct Sizes {
    /// Fields directly in the set count 1.
    depth: usize,
    aliases: usize,
    /// Fields at the set's own level (through fragments).
    top: usize,
    fields: usize,
}

impl Sizes {
    fn add(&mut self, other: Sizes) {
        self.depth = self.depth.max(other.depth);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.top = self.top.saturating_add(other.top);
        self.fields = self.fields.saturating_add(other.fields);
    }
}

/// Measures `operation` of `document`. Fragments are measured once each, in an order where
/// every fragment comes after the fragments it spreads, so no recursion follows spreads.
pub fn measure(document: &ExecutableDocument, operation: &executable::Operation) -> Measure {
    let mut sizes: HashMap<&Name, Sizes> = HashMap::new();
    for name in fragment_order(document) {
        if let Some(fragment) = document.fragments.get(name) {
            let measured = set_sizes(&fragment.selection_set, &sizes);
            sizes.insert(name, measured);
        }
    }
    let root = set_sizes(&operation.selection_set, &sizes);
    Measure {
        depth: root.depth,
        aliases: root.aliases,
        root_fields: root.top,
        selections: root.fields,
    }
}

/// The fragments of `document`, each after every fragment it spreads (a cycle, which
/// validation refuses, is cut where it is found).
fn fragment_order(document: &ExecutableDocument) -> Vec<&Name> {
    let mut order = Vec::with_capacity(document.fragments.len());
    let mut state: HashMap<&Name, bool> = HashMap::new(); // false: open, true: done
    for start in document.fragments.keys() {
        if state.contains_key(start) {
            continue;
        }
        // (fragment, its spreads still to visit)
        let mut stack: Vec<(&Name, Vec<&Name>)> = vec![(start, spreads(document, start))];
        state.insert(start, false);
        while let Some((name, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => {
                    if !state.contains_key(next) && document.fragments.contains_key(next) {
                        state.insert(next, false);
                        let inner = spreads(document, next);
                        stack.push((next, inner));
                    }
                }
                None => {
                    let name = *name;
                    state.insert(name, true);
                    order.push(name);
                    stack.pop();
                }
            }
        }
    }
    order
}

/// The names of the fragments spread (anywhere) in fragment `name`.
fn spreads<'d>(document: &'d ExecutableDocument, name: &Name) -> Vec<&'d Name> {
    fn walk<'d>(set: &'d executable::SelectionSet, out: &mut Vec<&'d Name>) {
        for item in &set.selections {
            match item {
                executable::Selection::Field(f) => walk(&f.selection_set, out),
                executable::Selection::FragmentSpread(s) => out.push(&s.fragment_name),
                executable::Selection::InlineFragment(i) => walk(&i.selection_set, out),
            }
        }
    }
    let mut out = Vec::new();
    if let Some(fragment) = document.fragments.get(name) {
        walk(&fragment.selection_set, &mut out);
    }
    out
}

/// The sizes of `set`, with the sizes of the fragments it spreads taken from `fragments`.
fn set_sizes(set: &executable::SelectionSet, fragments: &HashMap<&Name, Sizes>) -> Sizes {
    let mut out = Sizes::default();
    for item in &set.selections {
        match item {
            executable::Selection::Field(field) => {
                let child = set_sizes(&field.selection_set, fragments);
                out.depth = out.depth.max(child.depth.saturating_add(1));
                out.aliases = out
                    .aliases
                    .saturating_add(usize::from(field.alias.is_some()))
                    .saturating_add(child.aliases);
                out.top = out.top.saturating_add(1);
                out.fields = out.fields.saturating_add(1).saturating_add(child.fields);
            }
            executable::Selection::FragmentSpread(spread) => {
                if let Some(sizes) = fragments.get(&spread.fragment_name) {
                    out.add(*sizes);
                }
            }
            executable::Selection::InlineFragment(inline) => {
                out.add(set_sizes(&inline.selection_set, fragments));
            }
        }
    }
    out
}

/// Checks `measure` against the configured limits.
pub fn check(limits: &LimitsConfig, measure: &Measure) -> Result<(), RequestError> {
    if measure.depth > limits.max_depth {
        return Err(RequestError::MaxDepth {
            found: measure.depth,
            limit: limits.max_depth,
        });
    }
    if measure.aliases > limits.max_aliases {
        return Err(RequestError::MaxAliases {
            found: measure.aliases,
            limit: limits.max_aliases,
        });
    }
    if measure.root_fields > limits.max_root_fields {
        return Err(RequestError::MaxRootFields {
            found: measure.root_fields,
            limit: limits.max_root_fields,
        });
    }
    if measure.selections > limits.max_selections {
        return Err(RequestError::MaxSelections {
            found: measure.selections,
            limit: limits.max_selections,
        });
    }
    Ok(())
}

/// Directive applications in the whole document (operations and fragments).
pub fn count_directives(document: &ExecutableDocument) -> usize {
    fn set(selection: &executable::SelectionSet) -> usize {
        selection
            .selections
            .iter()
            .map(|item| match item {
                executable::Selection::Field(f) => f.directives.len() + set(&f.selection_set),
                executable::Selection::FragmentSpread(s) => s.directives.len(),
                executable::Selection::InlineFragment(i) => {
                    i.directives.len() + set(&i.selection_set)
                }
            })
            .sum()
    }
    let operations: usize = document
        .operations
        .iter()
        .map(|op| op.directives.len() + set(&op.selection_set))
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|f| f.directives.len() + set(&f.selection_set))
        .sum();
    operations + fragments
}

/// The estimated cost of `operation` with `variables`, against the supergraph `schema`.
pub fn cost(schema: &Schema, operation: &Operation, variables: &JsonMap, list_size: u64) -> u64 {
    let Some(root) = schema.root_operation(operation.kind) else {
        return 0;
    };
    let estimator = Estimator {
        schema,
        variables,
        list_size,
    };
    estimator.set(root, &operation.selection)
}

struct Estimator<'a> {
    schema: &'a Schema,
    variables: &'a JsonMap,
    list_size: u64,
}

impl Estimator<'_> {
    fn set(&self, parent: &Name, set: &SelectionSet) -> u64 {
        set.0
            .iter()
            .map(|item| match item {
                Selection::Field(field) => self.field(parent, field),
                Selection::Fragment(fragment) => self.set(&fragment.on, &fragment.selection),
            })
            .fold(0u64, u64::saturating_add)
    }

    fn field(&self, parent: &Name, field: &Field) -> u64 {
        if field.name.starts_with("__") {
            return 0;
        }
        let definition = self.schema.type_field(parent, &field.name).ok();
        let named = field.ty.inner_named_type();
        let composite = matches!(
            self.schema.types.get(named),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        );
        let weight = definition
            .and_then(|d| d.directives.get("cost").and_then(|c| weight(c)))
            .or_else(|| {
                self.schema
                    .types
                    .get(named)
                    .and_then(|t| t.directives().get("cost").and_then(|c| weight(c)))
            })
            .unwrap_or(u64::from(composite));
        let children = self.set(named, &field.selection);
        let multiplier = if is_list(&field.ty) {
            definition
                .and_then(|d| d.directives.get("listSize"))
                .map_or(self.list_size, |directive| self.list_size(field, directive))
        } else {
            1
        };
        multiplier.saturating_mul(weight.saturating_add(children))
    }

    /// A `@listSize`: the largest slicing argument given, else the assumed size.
    fn list_size(&self, field: &Field, directive: &apollo_compiler::ast::Directive) -> u64 {
        let sliced = match directive
            .specified_argument_by_name("slicingArguments")
            .map(|v| v.as_ref())
        {
            Some(AstValue::List(names)) => names
                .iter()
                .filter_map(|name| name.as_str())
                .filter_map(|name| {
                    field
                        .arguments
                        .iter()
                        .find(|(n, _)| n == name)
                        .and_then(|(_, value)| self.int(value))
                })
                .max(),
            _ => None,
        };
        sliced
            .or_else(|| {
                directive
                    .specified_argument_by_name("assumedSize")
                    .and_then(|v| v.to_i32())
                    .map(|n| n.max(0) as u64)
            })
            .unwrap_or(self.list_size)
    }

    fn int(&self, value: &AstValue) -> Option<u64> {
        match value {
            AstValue::Int(i) => i.try_to_i32().ok().map(|n| n.max(0) as u64),
            AstValue::Variable(name) => match self.variables.get(name.as_str()) {
                Some(JsonValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            _ => None,
        }
    }
}

fn weight(directive: &apollo_compiler::ast::Directive) -> Option<u64> {
    directive
        .specified_argument_by_name("weight")?
        .to_i32()
        .map(|n| n.max(0) as u64)
}

fn is_list(ty: &Type) -> bool {
    matches!(ty, Type::List(_) | Type::NonNullList(_))
}
