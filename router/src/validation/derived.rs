//! One error per mistake.
//!
//! apollo-compiler types a document before validating it, and typing drops what it cannot
//! type: a field the type does not have, a field selected under a scalar, a fragment on an
//! unknown type. Validation then sees the document without them and finds rules broken that
//! the client did not break: `{ me { noSuchField } }` also "lacks" a selection set for `me`,
//! a variable used only in a dropped field is "unused", a spread of a dropped fragment names
//! an "unknown" fragment, and a variable declared with an unknown type is "not allowed"
//! wherever it is used. graphql-js reports none of these; neither does the router.
//!
//! Each such diagnostic is recognized against the source document (the AST, which still has
//! everything the client wrote) by its kind and location, and left out; its cause is always
//! reported on its own.

use std::collections::{HashMap, HashSet};

use apollo_compiler::ast::{self, Definition, DirectiveList, Selection, Value};
use apollo_compiler::diagnostic::{Diagnostic, ToCliReport};
use apollo_compiler::parser::SourceSpan;
use apollo_compiler::validation::DiagnosticData;
use apollo_compiler::{Name, Node, Schema};

/// What the source document says that apollo-compiler's typed document may have lost.
#[derive(Debug, Default)]
pub struct Causes {
    /// Fields whose selection set is not empty in the source.
    selecting: HashSet<SourceSpan>,
    /// Spreads of fragments the source defines, typed or not.
    spreads_of_defined: HashSet<SourceSpan>,
    /// Variable definitions that their operation uses somewhere in the source.
    used_variables: Vec<SourceSpan>,
    /// Uses of variables declared with an unknown or non-input type: the value, and the
    /// argument when the variable is an argument's whole value.
    mistyped_uses: HashSet<SourceSpan>,
}

impl Causes {
    /// Reads `document`, whose typed version is checked against `schema`.
    pub fn of(document: &ast::Document, schema: &Schema) -> Self {
        let fragments: HashMap<&Name, &Node<ast::FragmentDefinition>> = document
            .definitions
            .iter()
            .filter_map(|definition| match definition {
                Definition::FragmentDefinition(fragment) => Some((&fragment.name, fragment)),
                _ => None,
            })
            .collect();
        let mut causes = Causes::default();
        for definition in &document.definitions {
            match definition {
                Definition::OperationDefinition(operation) => {
                    causes.selections(&operation.selection_set, &fragments);
                    causes.operation(operation, &fragments, schema);
                }
                Definition::FragmentDefinition(fragment) => {
                    causes.selections(&fragment.selection_set, &fragments);
                }
                _ => {}
            }
        }
        causes
    }

    /// Whether `diagnostic` only repeats a mistake reported by another one.
    pub fn derived(&self, diagnostic: &Diagnostic<'_, DiagnosticData>) -> bool {
        let Some(location) = ToCliReport::location(diagnostic.error) else {
            return false;
        };
        // apollo-compiler's names for its diagnostics are the only structured handle on
        // them; the tests pin each case, so a rename shows up as a test failure.
        match diagnostic.error.unstable_error_name() {
            Some("MissingSubselection") => self.selecting.contains(&location),
            Some("UndefinedFragment") => self.spreads_of_defined.contains(&location),
            Some("UnusedVariable") => self
                .used_variables
                .iter()
                .any(|definition| contains(*definition, location)),
            Some("DisallowedVariableUsage" | "UnsupportedValueType") => {
                self.mistyped_uses.contains(&location)
            }
            _ => false,
        }
    }

    fn selections(
        &mut self,
        selections: &[Selection],
        fragments: &HashMap<&Name, &Node<ast::FragmentDefinition>>,
    ) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    if !field.selection_set.is_empty()
                        && let Some(span) = field.location()
                    {
                        self.selecting.insert(span);
                    }
                    self.selections(&field.selection_set, fragments);
                }
                Selection::FragmentSpread(spread) => {
                    if fragments.contains_key(&spread.fragment_name)
                        && let Some(span) = spread.location()
                    {
                        self.spreads_of_defined.insert(span);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selections(&inline.selection_set, fragments);
                }
            }
        }
    }

    fn operation(
        &mut self,
        operation: &ast::OperationDefinition,
        fragments: &HashMap<&Name, &Node<ast::FragmentDefinition>>,
        schema: &Schema,
    ) {
        let mut uses = Uses {
            fragments,
            visited: HashSet::new(),
            found: Vec::new(),
        };
        uses.directives(&operation.directives);
        for variable in &operation.variables {
            uses.directives(&variable.directives);
        }
        uses.selections(&operation.selection_set);
        for variable in &operation.variables {
            let named = variable.ty.inner_named_type();
            let mistyped = !schema.types.get(named).is_some_and(|ty| ty.is_input_type());
            let mut used = false;
            for found in uses.found.iter().filter(|u| *u.name == variable.name) {
                used = true;
                if mistyped {
                    self.mistyped_uses.extend(found.value);
                    self.mistyped_uses.extend(found.argument);
                }
            }
            if used && let Some(span) = variable.location() {
                self.used_variables.push(span);
            }
        }
    }
}

/// Whether `outer` covers `inner`.
fn contains(outer: SourceSpan, inner: SourceSpan) -> bool {
    outer.file_id() == inner.file_id()
        && outer.offset() <= inner.offset()
        && inner.end_offset() <= outer.end_offset()
}

/// One use of a variable in the source.
struct Use<'a> {
    name: &'a Name,
    value: Option<SourceSpan>,
    /// The argument, when the variable is its whole value.
    argument: Option<SourceSpan>,
}

/// Collects the variables an operation uses, through the fragments it spreads.
struct Uses<'a, 'f> {
    fragments: &'f HashMap<&'a Name, &'a Node<ast::FragmentDefinition>>,
    visited: HashSet<&'a Name>,
    found: Vec<Use<'a>>,
}

impl<'a> Uses<'a, '_> {
    fn selections(&mut self, selections: &'a [Selection]) {
        for selection in selections {
            match selection {
                Selection::Field(field) => {
                    self.arguments(&field.arguments);
                    self.directives(&field.directives);
                    self.selections(&field.selection_set);
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.directives);
                    if self.visited.insert(&spread.fragment_name)
                        && let Some(fragment) = self.fragments.get(&spread.fragment_name)
                    {
                        self.directives(&fragment.directives);
                        self.selections(&fragment.selection_set);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.directives);
                    self.selections(&inline.selection_set);
                }
            }
        }
    }

    fn directives(&mut self, directives: &'a DirectiveList) {
        for directive in directives.iter() {
            self.arguments(&directive.arguments);
        }
    }

    fn arguments(&mut self, arguments: &'a [Node<ast::Argument>]) {
        for argument in arguments {
            if let Value::Variable(name) = argument.value.as_ref() {
                self.found.push(Use {
                    name,
                    value: argument.value.location(),
                    argument: argument.location(),
                });
            } else {
                self.value(&argument.value);
            }
        }
    }

    fn value(&mut self, value: &'a Node<Value>) {
        match value.as_ref() {
            Value::Variable(name) => self.found.push(Use {
                name,
                value: value.location(),
                argument: None,
            }),
            Value::List(items) => items.iter().for_each(|item| self.value(item)),
            Value::Object(fields) => fields.iter().for_each(|(_, field)| self.value(field)),
            Value::Null
            | Value::Enum(_)
            | Value::String(_)
            | Value::Float(_)
            | Value::Int(_)
            | Value::Boolean(_) => {}
        }
    }
}
