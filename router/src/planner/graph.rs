//! What each subgraph can do, read once per supergraph from its join directives: which types it
//! defines and how they are keyed, which fields it resolves, what a field requires or provides,
//! and which concrete types it can return for an abstract type.

use std::collections::HashMap;

use apollo_compiler::executable::FieldSet;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Name, Schema};

use super::operation::{SelectionSet, normalize_field_set};
use crate::supergraph::Supergraph;

/// A subgraph's position in [`Graph::subgraphs`].
pub type SubgraphId = usize;

/// A subgraph as the planner and executor see it.
#[derive(Debug, Clone)]
pub struct SubgraphInfo {
    pub name: String,
    pub url: String,
}

/// An `@key` of a type in one subgraph.
#[derive(Debug, Clone)]
pub struct Key {
    pub fields: SelectionSet,
    pub resolvable: bool,
}

/// A type as one subgraph defines it.
#[derive(Debug, Clone)]
pub struct TypeIn {
    pub subgraph: SubgraphId,
    pub keys: Vec<Key>,
    pub interface_object: bool,
}

/// A field as one subgraph declares it.
#[derive(Debug, Clone)]
pub struct FieldIn {
    pub subgraph: SubgraphId,
    /// Declared but resolved elsewhere (`@external`, or overridden).
    pub external: bool,
    pub requires: Option<SelectionSet>,
    pub provides: Option<SelectionSet>,
    /// The field's named type in this subgraph, when it differs from the supergraph's.
    pub type_in_graph: Option<Name>,
    /// The same, as written (with list and non-null wrappers).
    pub type_in_graph_text: Option<String>,
    /// Arguments this subgraph takes from an ancestor's `@context`: the field is fetched as
    /// an entity field, with their values taken from the response above its object.
    pub context: Vec<ContextArgument>,
    /// Declared `@external` or overridden for good (`usedOverridden`), whatever the labels.
    declared_external: bool,
    /// A progressive `@override` label this declaration depends on: (label, whether it
    /// resolves the field while the label is active). The overriding subgraph resolves it
    /// while the label is active, the overridden one while it is not.
    label: Option<(usize, bool)>,
}

/// A field argument whose value comes from an ancestor object that sets a context.
#[derive(Debug, Clone)]
pub struct ContextArgument {
    pub name: Name,
    /// Its type in the subgraph, as GraphQL text.
    pub ty: String,
    pub context: String,
}

/// What a context gives on one type that sets it: the value of `selection`'s one field.
#[derive(Debug, Clone)]
pub struct ContextSource {
    /// The type carrying `@context` (an object, an interface or a union).
    pub ty: Name,
    /// The selection of the context argument, read on that type.
    pub selection: SelectionSet,
}

/// The planner's view of a supergraph.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    pub subgraphs: Vec<SubgraphInfo>,
    types: HashMap<Name, Vec<TypeIn>>,
    fields: HashMap<(Name, Name), Vec<FieldIn>>,
    possible: HashMap<Name, Vec<Name>>,
    possible_in: HashMap<(Name, SubgraphId), Vec<Name>>,
    /// (interface, subgraph) pairs where the subgraph models the interface as an object.
    interface_objects: HashMap<Name, Vec<SubgraphId>>,
    interfaces_of: HashMap<Name, Vec<Name>>,
    /// The progressive `@override` labels of the supergraph, sorted; in this graph, those
    /// whose index is in `active` are active and the others not.
    labels: Vec<String>,
    active: Vec<bool>,
    /// Per label, the names of the fields whose resolution it changes.
    label_fields: Vec<Vec<Name>>,
    /// Per label, whether one of its fields is named by a key, a requirement or a context
    /// selection, which plans reach without the operation naming them.
    label_reached: Vec<bool>,
    /// (subgraph, type, field, argument) → the argument's selection on each type setting its
    /// context.
    context_selections: HashMap<(SubgraphId, Name, Name, Name), Vec<ContextSource>>,
}

impl Graph {
    /// Reads `supergraph`. Field sets that do not parse against the supergraph are an error.
    pub fn new(supergraph: &Supergraph) -> Result<Self, String> {
        let joins = &supergraph.joins;
        let schema = &supergraph.schema;
        let ids: HashMap<&Name, SubgraphId> = joins
            .subgraphs
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, i))
            .collect();
        let mut graph = Graph {
            subgraphs: joins
                .subgraphs
                .iter()
                .map(|s| SubgraphInfo {
                    name: s.name.clone(),
                    url: s.url.clone(),
                })
                .collect(),
            ..Graph::default()
        };
        for (ty, type_joins) in &joins.types {
            let mut by_subgraph: Vec<TypeIn> = Vec::new();
            for join in type_joins {
                let subgraph = ids[&join.graph];
                let entry = match by_subgraph.iter_mut().position(|t| t.subgraph == subgraph) {
                    Some(i) => &mut by_subgraph[i],
                    None => {
                        by_subgraph.push(TypeIn {
                            subgraph,
                            keys: Vec::new(),
                            interface_object: false,
                        });
                        by_subgraph.last_mut().expect("just pushed")
                    }
                };
                entry.interface_object |= join.interface_object;
                if let Some(key) = &join.key {
                    entry.keys.push(Key {
                        fields: field_set(schema, ty, key)?,
                        resolvable: join.resolvable,
                    });
                }
                if join.interface_object {
                    graph
                        .interface_objects
                        .entry(ty.clone())
                        .or_default()
                        .push(subgraph);
                }
            }
            graph.types.insert(ty.clone(), by_subgraph);
        }
        // A union may carry only `@join__unionMember`: each subgraph naming a member has it.
        for (union, members) in &joins.union_members {
            let entry = graph.types.entry(union.clone()).or_default();
            for (member_graph, _) in members {
                let subgraph = *ids.get(member_graph).ok_or_else(|| {
                    format!("@join__unionMember on {union} names unknown graph {member_graph}")
                })?;
                if !entry.iter().any(|t| t.subgraph == subgraph) {
                    entry.push(TypeIn {
                        subgraph,
                        keys: Vec::new(),
                        interface_object: false,
                    });
                }
            }
        }
        let mut labels: Vec<String> = joins
            .fields
            .values()
            .flatten()
            .filter_map(|j| j.override_label.clone())
            .collect();
        labels.sort();
        labels.dedup();
        graph.active = vec![false; labels.len()];
        for ((ty, field), field_joins) in &joins.fields {
            let mut list = Vec::new();
            for join in field_joins {
                let Some(g) = &join.graph else { continue };
                let parse =
                    |set: &Option<String>, on: &str| -> Result<Option<SelectionSet>, String> {
                        match set {
                            Some(set) if !set.trim().is_empty() => {
                                Ok(Some(field_set(schema, &Name::new_unchecked(on), set)?))
                            }
                            _ => Ok(None),
                        }
                    };
                let returns = schema
                    .type_field(ty, field)
                    .map(|f| f.ty.inner_named_type().to_string())
                    .unwrap_or_default();
                let type_in_graph = join.type_in_graph.as_deref().and_then(|t| {
                    let named = t.trim_matches(|c| c == '[' || c == ']' || c == '!' || c == ' ');
                    Name::new(named).ok()
                });
                let provides_on = type_in_graph
                    .as_ref()
                    .map_or(returns.clone(), |t| t.to_string());
                let declared_external = join.external || join.used_overridden;
                let index = |l: &String| labels.binary_search(l).unwrap_or_default();
                let label = match &join.override_label {
                    Some(l) => Some((index(l), join.override_from.is_some())),
                    // The subgraph a labelled `@override` takes the field from resolves it
                    // while the label is off, whether or not composition marked its
                    // declaration with the label too.
                    None => field_joins
                        .iter()
                        .find(|other| {
                            other.override_label.is_some()
                                && other.override_from.as_deref().is_some_and(|from| {
                                    from.eq_ignore_ascii_case(&graph.subgraphs[ids[g]].name)
                                })
                        })
                        .and_then(|other| other.override_label.as_ref())
                        .map(|l| (index(l), false)),
                };
                let mut context = Vec::new();
                for argument in &join.context_arguments {
                    let name = Name::new(&argument.name)
                        .map_err(|_| format!("{ty}.{field}: bad context argument name"))?;
                    let sources: Vec<ContextSource> = joins
                        .contexts
                        .iter()
                        .filter(|(_, names)| names.contains(&argument.context))
                        .filter_map(|(on, _)| {
                            field_set(schema, on, &argument.selection)
                                .ok()
                                .map(|selection| ContextSource {
                                    ty: on.clone(),
                                    selection: alias_arguments(selection),
                                })
                        })
                        .collect();
                    if sources.is_empty() {
                        return Err(format!(
                            "{ty}.{field}: no type sets the context {} with the field set \"{}\"",
                            argument.context, argument.selection
                        ));
                    }
                    graph
                        .context_selections
                        .insert((ids[g], ty.clone(), field.clone(), name.clone()), sources);
                    context.push(ContextArgument {
                        name,
                        ty: argument.ty.clone(),
                        context: argument.context.clone(),
                    });
                }
                list.push(FieldIn {
                    context,
                    subgraph: ids[g],
                    // No label is active in the graph as read.
                    external: declared_external || label.is_some_and(|(_, when)| when),
                    declared_external,
                    label,
                    requires: parse(&join.requires, ty)?.map(alias_arguments),
                    provides: parse(&join.provides, &provides_on)?,
                    type_in_graph,
                    type_in_graph_text: join.type_in_graph.clone(),
                });
            }
            // `@join__field` without a graph still means "not resolved by the type's subgraphs"
            // (the field comes from an `@interfaceObject`), so an empty list is kept.
            graph.fields.insert((ty.clone(), field.clone()), list);
        }
        for (name, ty) in &schema.types {
            match ty {
                ExtendedType::Object(object) => {
                    for interface in &object.implements_interfaces {
                        graph
                            .possible
                            .entry(interface.name.clone())
                            .or_default()
                            .push(name.clone());
                        graph
                            .interfaces_of
                            .entry(name.clone())
                            .or_default()
                            .push(interface.name.clone());
                    }
                }
                ExtendedType::Union(union) => {
                    graph.possible.insert(
                        name.clone(),
                        union.members.iter().map(|m| m.name.clone()).collect(),
                    );
                }
                _ => {}
            }
        }
        // Which concrete types a subgraph may return for an abstract type.
        for (abstract_ty, members) in &graph.possible {
            for subgraph in 0..graph.subgraphs.len() {
                if !graph.defines(subgraph, abstract_ty) {
                    continue;
                }
                let graph_id = &joins.subgraphs[subgraph].id;
                let is_union =
                    matches!(schema.types.get(abstract_ty), Some(ExtendedType::Union(_)));
                let explicit_union = joins.union_members.get(abstract_ty);
                let in_subgraph: Vec<Name> = members
                    .iter()
                    .filter(|member| graph.defines(subgraph, member))
                    .filter(|member| {
                        if is_union {
                            match explicit_union {
                                Some(list) => {
                                    list.iter().any(|(g, m)| g == graph_id && m == *member)
                                }
                                None => true,
                            }
                        } else {
                            match joins.implements.get(&((*member).clone(), graph_id.clone())) {
                                Some(list) => list.contains(abstract_ty),
                                None => !joins.implements.keys().any(|(t, _)| t == *member),
                            }
                        }
                    })
                    .cloned()
                    .collect();
                graph
                    .possible_in
                    .insert((abstract_ty.clone(), subgraph), in_subgraph);
            }
        }
        graph.label_fields = vec![Vec::new(); labels.len()];
        for ((_, field), list) in &graph.fields {
            for join in list {
                if let Some((label, _)) = join.label {
                    let names = &mut graph.label_fields[label];
                    if !names.contains(field) {
                        names.push(field.clone());
                    }
                }
            }
        }
        let mut reached: Vec<&Name> = Vec::new();
        let sets = graph
            .fields
            .values()
            .flatten()
            .filter_map(|f| f.requires.as_ref())
            .chain(
                graph
                    .types
                    .values()
                    .flatten()
                    .flat_map(|t| t.keys.iter().map(|k| &k.fields)),
            )
            .chain(
                graph
                    .context_selections
                    .values()
                    .flatten()
                    .map(|c| &c.selection),
            );
        for set in sets {
            field_names(set, &mut reached);
        }
        graph.label_reached = graph
            .label_fields
            .iter()
            .map(|names| names.iter().any(|n| reached.contains(&n)))
            .collect();
        graph.labels = labels;
        Ok(graph)
    }

    /// How an object of type `ty` gives the context argument `argument` of `field.name`: for
    /// each concrete type of `ty` that sets the argument's context (itself, through an
    /// interface, or as a member of a union that sets it), the argument's selection on it.
    /// Empty when no object of `ty` sets the context.
    pub fn context_sources(
        &self,
        subgraph: SubgraphId,
        ty: &Name,
        field: &(Name, Name),
        argument: &ContextArgument,
    ) -> Vec<(Name, SelectionSet)> {
        let key = (
            subgraph,
            field.0.clone(),
            field.1.clone(),
            argument.name.clone(),
        );
        let Some(sources) = self.context_selections.get(&key) else {
            return Vec::new();
        };
        let concrete: Vec<Name> = if self.is_abstract(ty) {
            self.possible_types(ty).to_vec()
        } else {
            vec![ty.clone()]
        };
        concrete
            .into_iter()
            .filter_map(|object| {
                sources
                    .iter()
                    .find(|source| {
                        source.ty == object
                            || self
                                .interfaces_of
                                .get(&object)
                                .is_some_and(|list| list.contains(&source.ty))
                            || self.possible_types(&source.ty).contains(&object)
                    })
                    .map(|source| (object, source.selection.clone()))
            })
            .collect()
    }

    /// The supergraph's progressive `@override` labels, sorted.
    pub fn override_labels(&self) -> &[String] {
        &self.labels
    }

    /// Whether a field of label `label` is named by a key, a requirement or a context selection
    /// (so that an operation can reach it without naming it).
    pub fn label_reached(&self, label: usize) -> bool {
        self.label_reached.get(label).copied().unwrap_or(true)
    }

    /// The names of the fields whose resolution label `label` changes.
    pub fn label_fields(&self, label: usize) -> &[Name] {
        self.label_fields
            .get(label)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Which of [`Self::override_labels`] are active in this graph.
    pub fn active_labels(&self) -> &[bool] {
        &self.active
    }

    /// This graph with the labels `active` (indexed like [`Self::override_labels`]) active
    /// and the others not: each labelled field is resolved by the subgraph that overrides it
    /// while its label is active, and by the one it overrides while not.
    pub fn with_labels(&self, active: &[bool]) -> Graph {
        let mut graph = self.clone();
        graph.active = (0..self.labels.len())
            .map(|i| active.get(i).copied().unwrap_or(false))
            .collect();
        for list in graph.fields.values_mut() {
            for field in list {
                if let Some((label, when)) = field.label {
                    field.external = field.declared_external || graph.active[label] != when;
                }
            }
        }
        graph
    }

    /// Whether `subgraph` defines `ty` at all.
    pub fn defines(&self, subgraph: SubgraphId, ty: &str) -> bool {
        self.types
            .get(ty)
            .is_some_and(|list| list.iter().any(|t| t.subgraph == subgraph))
    }

    pub fn type_in(&self, subgraph: SubgraphId, ty: &str) -> Option<&TypeIn> {
        self.types.get(ty)?.iter().find(|t| t.subgraph == subgraph)
    }

    /// The subgraphs that define `ty`.
    pub fn type_subgraphs(&self, ty: &str) -> impl Iterator<Item = SubgraphId> + '_ {
        self.types.get(ty).into_iter().flatten().map(|t| t.subgraph)
    }

    /// Whether `subgraph` models the interface `ty` as an object (`@interfaceObject`).
    pub fn is_interface_object(&self, subgraph: SubgraphId, ty: &str) -> bool {
        self.interface_objects
            .get(ty)
            .is_some_and(|list| list.contains(&subgraph))
    }

    /// How `subgraph` declares `ty.field`, when it says so explicitly.
    pub fn field_in(&self, subgraph: SubgraphId, ty: &str, field: &str) -> Option<&FieldIn> {
        self.fields
            .get(&(Name::new_unchecked(ty), Name::new_unchecked(field)))?
            .iter()
            .find(|f| f.subgraph == subgraph && !f.external)
    }

    /// The named type `ty.field` has in `subgraph`, when it differs from the supergraph's.
    pub fn field_type_in(&self, subgraph: SubgraphId, ty: &str, field: &str) -> Option<&Name> {
        self.fields
            .get(&(Name::new_unchecked(ty), Name::new_unchecked(field)))?
            .iter()
            .find(|f| f.subgraph == subgraph)?
            .type_in_graph
            .as_ref()
    }

    /// `ty.field`'s type in `subgraph` as GraphQL text, when the subgraph declares its own.
    pub fn field_type_text_in(&self, subgraph: SubgraphId, ty: &str, field: &str) -> Option<&str> {
        self.fields
            .get(&(Name::new_unchecked(ty), Name::new_unchecked(field)))?
            .iter()
            .find(|f| f.subgraph == subgraph)?
            .type_in_graph_text
            .as_deref()
    }

    /// Whether `subgraph` can resolve `ty.field` on its own.
    pub fn resolves(&self, subgraph: SubgraphId, ty: &str, field: &str) -> bool {
        if field.starts_with("__") {
            return self.defines(subgraph, ty);
        }
        match self
            .fields
            .get(&(Name::new_unchecked(ty), Name::new_unchecked(field)))
        {
            Some(list) => list.iter().any(|f| f.subgraph == subgraph && !f.external),
            None => self.defines(subgraph, ty),
        }
    }

    /// The subgraphs that can resolve `ty.field`.
    pub fn resolvers(&self, ty: &str, field: &str) -> Vec<SubgraphId> {
        match self
            .fields
            .get(&(Name::new_unchecked(ty), Name::new_unchecked(field)))
        {
            Some(list) => {
                let mut out: Vec<SubgraphId> = list
                    .iter()
                    .filter(|f| !f.external)
                    .map(|f| f.subgraph)
                    .collect();
                out.dedup();
                out
            }
            None => self.type_subgraphs(ty).collect(),
        }
    }

    /// An interface of `ty` that some subgraph models as an `@interfaceObject` resolving
    /// `field`, with that subgraph.
    pub fn interface_object_resolver(&self, ty: &str, field: &str) -> Vec<(Name, SubgraphId)> {
        let mut out = Vec::new();
        for interface in self.interfaces_of.get(ty).into_iter().flatten() {
            for &subgraph in self.interface_objects.get(interface).into_iter().flatten() {
                if self.resolves(subgraph, interface, field) {
                    out.push((interface.clone(), subgraph));
                }
            }
        }
        out
    }

    /// The concrete types of the abstract type `ty` in the supergraph.
    pub fn possible_types(&self, ty: &str) -> &[Name] {
        self.possible.get(ty).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The concrete types of `ty` that `subgraph` can return.
    pub fn possible_types_in(&self, subgraph: SubgraphId, ty: &str) -> &[Name] {
        self.possible_in
            .get(&(Name::new_unchecked(ty), subgraph))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether `ty` is an interface or union.
    pub fn is_abstract(&self, ty: &str) -> bool {
        self.possible.contains_key(ty)
    }

    /// The resolvable keys `subgraph` has for `ty`.
    pub fn resolvable_keys(&self, subgraph: SubgraphId, ty: &str) -> impl Iterator<Item = &Key> {
        self.type_in(subgraph, ty)
            .into_iter()
            .flat_map(|t| t.keys.iter())
            .filter(|k| k.resolvable)
    }
}

/// Every field name in `set`, at every depth.
fn field_names<'s>(set: &'s SelectionSet, out: &mut Vec<&'s Name>) {
    use super::operation::Selection;
    for item in &set.0 {
        match item {
            Selection::Field(field) => {
                if !out.contains(&&field.name) {
                    out.push(&field.name);
                }
                field_names(&field.selection, out);
            }
            Selection::Fragment(fragment) => field_names(&fragment.selection, out),
        }
    }
}

fn field_set(schema: &Valid<Schema>, ty: &Name, text: &str) -> Result<SelectionSet, String> {
    let set = FieldSet::parse(schema, ty.clone(), text, "field-set.graphql")
        .map_err(|e| format!("cannot read the field set \"{text}\" on {ty}: {}", e.errors))?;
    Ok(normalize_field_set(&set.selection_set))
}

/// Required fields with arguments get an alias of their own (`name__req_<hash>`), so they can
/// sit next to the same field with the client's arguments in one fetch.
fn alias_arguments(mut set: SelectionSet) -> SelectionSet {
    use super::operation::Selection;
    for item in &mut set.0 {
        match item {
            Selection::Field(field) => {
                if !field.arguments.is_empty() && field.alias.is_none() {
                    let mut text = String::new();
                    for (name, value) in &field.arguments {
                        text.push_str(name);
                        text.push_str(&value.to_string());
                    }
                    // FNV-1a: stable across runs, so plans and their snapshots are too.
                    let hash = text.bytes().fold(0xcbf29ce484222325u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
                    });
                    field.alias = Name::new(&format!(
                        "{}{}{:08x}",
                        field.name,
                        super::alias::REQUIRES_MARK,
                        hash as u32
                    ))
                    .ok();
                }
                field.selection = alias_arguments(std::mem::take(&mut field.selection));
            }
            Selection::Fragment(fragment) => {
                fragment.selection = alias_arguments(std::mem::take(&mut fragment.selection));
            }
        }
    }
    set
}
