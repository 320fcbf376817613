//! Step 3b: operation limits. Depth, aliases and root fields are measured on the normalized
//! operation (fragments expanded, so fragment tricks cannot hide size); directives and tokens
//! on the document; the cost estimate follows `@cost` and `@listSize` where the supergraph has
//! them. A refused operation never reaches a subgraph.

use apollo_compiler::ast::{Type, Value as AstValue};
use apollo_compiler::executable::{self, ExecutableDocument};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use super::request::RequestError;
use crate::config::LimitsConfig;
use crate::planner::operation::{Field, Operation, Selection, SelectionSet};

/// What the limits look at, measured once per normalized operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Measure {
    pub depth: usize,
    pub aliases: usize,
    pub root_fields: usize,
}

/// Measures `operation`.
pub fn measure(operation: &Operation) -> Measure {
    let mut measure = Measure {
        root_fields: count_fields(&operation.selection),
        ..Measure::default()
    };
    walk(&operation.selection, 1, &mut measure);
    measure
}

fn count_fields(set: &SelectionSet) -> usize {
    set.0
        .iter()
        .map(|item| match item {
            Selection::Field(_) => 1,
            Selection::Fragment(fragment) => count_fields(&fragment.selection),
        })
        .sum()
}

fn walk(set: &SelectionSet, depth: usize, measure: &mut Measure) {
    for item in &set.0 {
        match item {
            Selection::Field(field) => {
                measure.depth = measure.depth.max(depth);
                if field.client_alias().is_some() {
                    measure.aliases += 1;
                }
                walk(&field.selection, depth + 1, measure);
            }
            Selection::Fragment(fragment) => walk(&fragment.selection, depth, measure),
        }
    }
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
