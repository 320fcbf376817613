//! Which subgraphs define each type and field, read from the join directives.

use std::collections::HashMap;

use apollo_compiler::ast::{Directive, Value};
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::{Name, Schema};

use super::SupergraphError;
use super::links::Links;

/// A subgraph of the supergraph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subgraph {
    /// The subgraph's name (`@join__graph(name:)`).
    pub name: String,
    /// Its `join__Graph` enum value, which the other join directives refer to.
    pub id: Name,
    /// Where the router sends its fetches.
    pub url: String,
}

/// One `@join__type`: a subgraph that defines the type, and how it is keyed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeJoin {
    pub graph: Name,
    pub key: Option<String>,
    pub resolvable: bool,
    pub extension: bool,
    pub interface_object: bool,
}

/// One `@join__field`: a subgraph that resolves (or references) the field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldJoin {
    pub graph: Option<Name>,
    pub requires: Option<String>,
    pub provides: Option<String>,
    /// The field's type in that subgraph, when it differs.
    pub type_in_graph: Option<String>,
    pub external: bool,
    pub override_from: Option<String>,
    pub override_label: Option<String>,
    pub used_overridden: bool,
    /// Arguments the subgraph takes from an ancestor's `@context` (`@fromContext`).
    pub context_arguments: Vec<ContextArgument>,
}

/// One `join__ContextArgument`: the argument `name` of the field, of type `ty`, takes the value
/// of `selection` on the nearest ancestor of the field's object whose type carries
/// `@context(name: context)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextArgument {
    pub name: String,
    pub ty: String,
    pub context: String,
    pub selection: String,
}

/// The join information of a supergraph.
#[derive(Debug, Clone, Default)]
pub struct Joins {
    pub subgraphs: Vec<Subgraph>,
    pub types: HashMap<Name, Vec<TypeJoin>>,
    pub fields: HashMap<(Name, Name), Vec<FieldJoin>>,
    /// (type, subgraph) → interfaces it implements there.
    pub implements: HashMap<(Name, Name), Vec<Name>>,
    /// union → (subgraph, member).
    pub union_members: HashMap<Name, Vec<(Name, Name)>>,
    /// type → the contexts it sets (`@context(name:)`), for arguments of fields below it.
    pub contexts: HashMap<Name, Vec<String>>,
}

impl Joins {
    pub fn subgraph(&self, id: &str) -> Option<&Subgraph> {
        self.subgraphs.iter().find(|s| s.id == id)
    }

    /// The subgraphs that can resolve `ty.field`: those named by a non-external `@join__field`,
    /// or, without any, every subgraph that defines the type.
    pub fn field_owners(&self, ty: &str, field: &str) -> Vec<&Name> {
        let key = (Name::new_unchecked(ty), Name::new_unchecked(field));
        match self.fields.get(&key) {
            Some(joins) if joins.iter().any(|j| j.graph.is_some()) => joins
                .iter()
                .filter(|j| !j.external && !j.used_overridden)
                .filter_map(|j| j.graph.as_ref())
                .collect(),
            _ => self
                .types
                .get(ty)
                .map(|t| t.iter().map(|j| &j.graph).collect())
                .unwrap_or_default(),
        }
    }
}

fn arg<'a>(directive: &'a Directive, name: &str) -> Option<&'a Value> {
    directive
        .specified_argument_by_name(name)
        .map(|v| v.as_ref())
}

fn string(directive: &Directive, name: &str) -> Option<String> {
    match arg(directive, name) {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn boolean(directive: &Directive, name: &str, default: bool) -> bool {
    match arg(directive, name) {
        Some(Value::Boolean(b)) => *b,
        _ => default,
    }
}

fn context_arguments(directive: &Directive) -> Result<Vec<ContextArgument>, String> {
    let Some(value) = arg(directive, "contextArguments") else {
        return Ok(Vec::new());
    };
    let items = match value {
        Value::List(items) => items.iter().map(|i| i.as_ref()).collect(),
        Value::Object(_) => vec![value],
        Value::Null => Vec::new(),
        _ => return Err("contextArguments is not a list".to_owned()),
    };
    items
        .into_iter()
        .map(|item| {
            let Value::Object(fields) = item else {
                return Err("a context argument is not an object".to_owned());
            };
            let text = |key: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k == key)
                    .and_then(|(_, v)| match v.as_ref() {
                        Value::String(s) => Some(s.clone()),
                        _ => None,
                    })
                    .ok_or_else(|| format!("a context argument has no {key}"))
            };
            Ok(ContextArgument {
                name: text("name")?,
                ty: text("type")?,
                context: text("context")?,
                selection: text("selection")?,
            })
        })
        .collect()
}

fn graph(directive: &Directive) -> Option<Name> {
    match arg(directive, "graph") {
        Some(Value::Enum(e)) => Some(e.clone()),
        _ => None,
    }
}

/// Reads the join directives of `schema`.
pub fn read(schema: &Schema, links: &Links) -> Result<Joins, SupergraphError> {
    let ns = links.join();
    let (graph_enum, graph_dir) = (format!("{ns}__Graph"), format!("{ns}__graph"));
    let (type_dir, field_dir) = (format!("{ns}__type"), format!("{ns}__field"));
    let (implements_dir, member_dir) = (format!("{ns}__implements"), format!("{ns}__unionMember"));
    let context_dir = links.context();

    let mut joins = Joins::default();
    let Some(ExtendedType::Enum(graphs)) = schema.types.get(graph_enum.as_str()) else {
        return Err(SupergraphError::Malformed(format!("no {graph_enum} enum")));
    };
    for (id, value) in &graphs.values {
        let directive = value.directives.get(&graph_dir).ok_or_else(|| {
            SupergraphError::Malformed(format!("{graph_enum}.{id} has no @{graph_dir}"))
        })?;
        let name = string(directive, "name").unwrap_or_else(|| id.to_string().to_lowercase());
        let url = string(directive, "url")
            .ok_or_else(|| SupergraphError::Malformed(format!("subgraph {name} has no url")))?;
        joins.subgraphs.push(Subgraph {
            name,
            id: id.clone(),
            url,
        });
    }
    let known = |g: &Name| joins.subgraphs.iter().any(|s| &s.id == g);

    for (type_name, ty) in &schema.types {
        let mut type_joins = Vec::new();
        for directive in ty.directives().get_all(&type_dir) {
            let graph = graph(directive).ok_or_else(|| {
                SupergraphError::Malformed(format!("@{type_dir} on {type_name} has no graph"))
            })?;
            if !known(&graph) {
                return Err(SupergraphError::Malformed(format!(
                    "@{type_dir} on {type_name} names unknown graph {graph}"
                )));
            }
            type_joins.push(TypeJoin {
                graph,
                key: string(directive, "key"),
                resolvable: boolean(directive, "resolvable", true),
                extension: boolean(directive, "extension", false),
                interface_object: boolean(directive, "isInterfaceObject", false),
            });
        }
        if !type_joins.is_empty() {
            joins.types.insert(type_name.clone(), type_joins);
        }
        if let Some(context_dir) = &context_dir {
            let names: Vec<String> = ty
                .directives()
                .get_all(context_dir)
                .filter_map(|d| string(d, "name"))
                .collect();
            if !names.is_empty() {
                joins.contexts.insert(type_name.clone(), names);
            }
        }
        for directive in ty.directives().get_all(&implements_dir) {
            if let (Some(graph), Some(interface)) =
                (graph(directive), string(directive, "interface"))
            {
                joins
                    .implements
                    .entry((type_name.clone(), graph))
                    .or_default()
                    .push(
                        Name::new(&interface)
                            .map_err(|e| SupergraphError::Malformed(e.to_string()))?,
                    );
            }
        }
        for directive in ty.directives().get_all(&member_dir) {
            if let (Some(graph), Some(member)) = (graph(directive), string(directive, "member")) {
                let member =
                    Name::new(&member).map_err(|e| SupergraphError::Malformed(e.to_string()))?;
                joins
                    .union_members
                    .entry(type_name.clone())
                    .or_default()
                    .push((graph, member));
            }
        }
        let fields: Vec<(&Name, &apollo_compiler::ast::DirectiveList)> = match ty {
            ExtendedType::Object(o) => o.fields.iter().map(|(n, f)| (n, &f.directives)).collect(),
            ExtendedType::Interface(i) => {
                i.fields.iter().map(|(n, f)| (n, &f.directives)).collect()
            }
            ExtendedType::InputObject(i) => {
                i.fields.iter().map(|(n, f)| (n, &f.directives)).collect()
            }
            _ => Vec::new(),
        };
        for (field_name, directives) in fields {
            let field_joins: Vec<FieldJoin> = directives
                .get_all(&field_dir)
                .map(|d| {
                    let context_arguments = context_arguments(d).map_err(|e| {
                        SupergraphError::Malformed(format!(
                            "@{field_dir} on {type_name}.{field_name}: {e}"
                        ))
                    })?;
                    Ok(FieldJoin {
                        graph: graph(d),
                        requires: string(d, "requires"),
                        provides: string(d, "provides"),
                        type_in_graph: string(d, "type"),
                        external: boolean(d, "external", false),
                        override_from: string(d, "override"),
                        override_label: string(d, "overrideLabel"),
                        used_overridden: boolean(d, "usedOverridden", false),
                        context_arguments,
                    })
                })
                .collect::<Result<_, SupergraphError>>()?;
            if let Some(unknown) = field_joins
                .iter()
                .filter_map(|j| j.graph.as_ref())
                .find(|g| !known(g))
            {
                return Err(SupergraphError::Malformed(format!(
                    "@{field_dir} on {type_name}.{field_name} names unknown graph {unknown}"
                )));
            }
            if !field_joins.is_empty() {
                joins
                    .fields
                    .insert((type_name.clone(), field_name.clone()), field_joins);
            }
        }
    }
    Ok(joins)
}
