//! Step 3c: the operation's estimated cost, checked before it is planned. Weights and list
//! sizes follow the supergraph's `@cost` and `@listSize` (the cost specification, under the
//! names its `@link` gives them), or defaults: 1 for each object, 0 for each leaf, and the
//! configured list size.

use apollo_compiler::ast::{Directive, Type, Value as AstValue};
use apollo_compiler::response::{JsonMap, JsonValue};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use super::Engine;
use super::request::RequestError;
use crate::planner::operation::{Field, Operation, Selection, SelectionSet};

/// What the cost directives are called in a supergraph.
#[derive(Debug, Clone, Default)]
pub struct CostDirectives {
    cost: Option<String>,
    list_size: Option<String>,
}

impl CostDirectives {
    /// The names `supergraph`'s link to the cost specification gives `@cost` and `@listSize`;
    /// none when it does not link it.
    pub fn of(links: &crate::supergraph::links::Links) -> Self {
        match links.get("cost") {
            Some(link) => Self {
                cost: Some(link.local_name("cost")),
                list_size: Some(link.local_name("listSize")),
            },
            None => Self::default(),
        }
    }
}

/// Refuses `operation` when its estimated cost with `variables` is above the configured
/// limit, or when a `@listSize` that requires one slicing argument does not get exactly one.
pub fn check(
    engine: &Engine,
    operation: &Operation,
    variables: &JsonMap,
) -> Result<(), RequestError> {
    let Some(limit) = engine.config.limits.max_cost else {
        return Ok(());
    };
    let found = estimate(
        &engine.supergraph.schema,
        &engine.cost_directives,
        operation,
        variables,
        engine.config.limits.list_size,
    )?;
    if found > limit {
        return Err(RequestError::Cost { found, limit });
    }
    Ok(())
}

/// The estimated cost of `operation` with `variables`, against the supergraph `schema`.
pub fn estimate(
    schema: &Schema,
    directives: &CostDirectives,
    operation: &Operation,
    variables: &JsonMap,
    list_size: u64,
) -> Result<u64, RequestError> {
    let Some(root) = schema.root_operation(operation.kind) else {
        return Ok(0);
    };
    let estimator = Estimator {
        schema,
        directives,
        variables,
        list_size,
    };
    estimator.set(root, &operation.selection, None)
}

struct Estimator<'a> {
    schema: &'a Schema,
    directives: &'a CostDirectives,
    variables: &'a JsonMap,
    list_size: u64,
}

/// A `@listSize(sizedFields:)` in force: the fields of the selection whose lists have the
/// parent's size.
type Sized<'a> = Option<(&'a [String], u64)>;

impl Estimator<'_> {
    fn set(
        &self,
        parent: &Name,
        set: &SelectionSet,
        sized: Sized<'_>,
    ) -> Result<u64, RequestError> {
        let mut total = 0u64;
        for item in &set.0 {
            let cost = match item {
                // A skipped field costs nothing.
                Selection::Field(field)
                    if !crate::planner::operation::holds(&field.conditions, self.variables) =>
                {
                    0
                }
                Selection::Field(field) => self.field(parent, field, sized)?,
                Selection::Fragment(fragment) => {
                    self.set(&fragment.on, &fragment.selection, sized)?
                }
            };
            total = total.saturating_add(cost);
        }
        Ok(total)
    }

    fn directive<'d>(
        &self,
        list: &'d apollo_compiler::ast::DirectiveList,
        name: &Option<String>,
    ) -> Option<&'d Directive> {
        name.as_deref().and_then(|n| list.get(n)).map(|d| &**d)
    }

    fn field(&self, parent: &Name, field: &Field, sized: Sized<'_>) -> Result<u64, RequestError> {
        if field.name.starts_with("__") {
            return Ok(0);
        }
        let definition = self.schema.type_field(parent, &field.name).ok();
        let named = field.ty.inner_named_type();
        let composite = matches!(
            self.schema.types.get(named),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        );
        let weight = definition
            .and_then(|d| self.directive(&d.directives, &self.directives.cost))
            .and_then(weight)
            .or_else(|| {
                self.schema.types.get(named).and_then(|t| {
                    let cost = self.directives.cost.as_deref()?;
                    t.directives().get(cost).and_then(|d| weight(d))
                })
            })
            .unwrap_or(u64::from(composite));
        let list_size =
            definition.and_then(|d| self.directive(&d.directives, &self.directives.list_size));
        let size = match list_size {
            Some(directive) => self.list_size(field, directive)?,
            None => self.list_size,
        };
        let sized_fields = list_size.map_or_else(Vec::new, |d| strings(d, "sizedFields"));
        let (multiplier, child_sized) = match sized_fields.as_slice() {
            // The size belongs to the named fields below (a connection's `edges`), not to
            // this one.
            [_, ..] => (1, Some((sized_fields.as_slice(), size))),
            [] => {
                let inherited = sized
                    .filter(|(names, _)| names.iter().any(|n| n == field.name.as_str()))
                    .map(|(_, size)| size);
                let multiplier = match inherited {
                    Some(size) => size,
                    None if is_list(&field.ty) => size,
                    None => 1,
                };
                (multiplier, None)
            }
        };
        let children = self.set(named, &field.selection, child_sized)?;
        Ok(multiplier.saturating_mul(weight.saturating_add(children)))
    }

    /// A `@listSize`'s size for `field`: the largest slicing argument given, else the assumed
    /// size, else the configured one. With `requireOneSlicingArgument` (the default) and
    /// slicing arguments named, exactly one must be given.
    fn list_size(&self, field: &Field, directive: &Directive) -> Result<u64, RequestError> {
        let slicing = strings(directive, "slicingArguments");
        let given: Vec<u64> = slicing
            .iter()
            .filter_map(|name| {
                field
                    .arguments
                    .iter()
                    .find(|(n, _)| n == name.as_str())
                    .and_then(|(_, value)| self.int(value))
            })
            .collect();
        let require_one = directive
            .specified_argument_by_name("requireOneSlicingArgument")
            .map(|v| v.to_bool().unwrap_or(true))
            .unwrap_or(true);
        if require_one && !slicing.is_empty() && given.len() != 1 {
            return Err(RequestError::SlicingArgument {
                field: field.name.to_string(),
                arguments: slicing.join(", "),
            });
        }
        Ok(given
            .into_iter()
            .max()
            .or_else(|| {
                directive
                    .specified_argument_by_name("assumedSize")
                    .and_then(|v| v.to_i32())
                    .map(|n| n.max(0) as u64)
            })
            .unwrap_or(self.list_size))
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

/// A directive's list-of-strings argument (empty when absent).
fn strings(directive: &Directive, name: &str) -> Vec<String> {
    match directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
    {
        Some(AstValue::List(items)) => items
            .iter()
            .filter_map(|item| item.as_str().map(str::to_owned))
            .collect(),
        Some(AstValue::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn weight(directive: &Directive) -> Option<u64> {
    directive
        .specified_argument_by_name("weight")?
        .to_i32()
        .map(|n| n.max(0) as u64)
}

fn is_list(ty: &Type) -> bool {
    matches!(ty, Type::List(_) | Type::NonNullList(_))
}
