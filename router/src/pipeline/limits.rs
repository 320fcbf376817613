//! Step 3b: operation limits. Depth, aliases, root fields and the total number of selections
//! are measured on the document as it would be expanded, without expanding it: each named
//! fragment is measured once and its sizes added wherever it is spread, so a small document
//! whose fragments spread each other many times is refused in time linear in its length,
//! before normalization or planning could do exponential work. Directives and tokens are
//! counted on the document; the cost estimate is [`super::cost`]'s. A refused operation never
//! reaches a subgraph.

use std::collections::HashMap;

use apollo_compiler::Name;
use apollo_compiler::executable::{self, ExecutableDocument};

use super::request::RequestError;
use crate::config::LimitsConfig;

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
