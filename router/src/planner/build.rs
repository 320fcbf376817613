//! Building fetch groups: walk the operation from the root, keep each field in the subgraph
//! that is already resolving its parent when it can, and otherwise jump to a subgraph that
//! resolves it through an entity key (adding the key, and any `@requires` fields, to the
//! fetch that produces the parent object).

use std::collections::BTreeSet;

use apollo_compiler::Name;
use apollo_compiler::ast::{OperationType, Type};

use super::PlanError;
use super::graph::{Graph, Key, SubgraphId};
use super::operation::{Field, Fragment, Operation, Selection, SelectionSet};
use super::plan::PathSegment;

pub(super) type GroupId = usize;

/// Guards against supergraphs whose `@requires` or keys would make the walk recurse forever.
const MAX_WALK_DEPTH: usize = 256;

/// One future fetch: a subgraph, and what to select there.
#[derive(Debug)]
pub(super) struct Group {
    pub subgraph: SubgraphId,
    /// `None` for a root fetch; for an entity fetch, the group producing its objects.
    pub parent: Option<(GroupId, Vec<Step>)>,
    pub path: Vec<PathSegment>,
    pub selection: SelectionSet,
    /// For an entity fetch: (representation typename, concrete types it matches, fields).
    pub reps: Vec<(Name, Vec<Name>, SelectionSet)>,
    pub deps: BTreeSet<GroupId>,
}

/// A position inside a group's selection.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Field(Field),
    Fragment(Name),
}

pub(super) struct Builder<'a> {
    graph: &'a Graph,
    schema: &'a apollo_compiler::Schema,
    pub groups: Vec<Group>,
    /// Groups touched while walking keys and requirements, innermost last.
    touched: Vec<BTreeSet<GroupId>>,
    /// The (type, subgraph) jumps being set up, so key walks cannot go round in circles.
    jumping: Vec<(Name, SubgraphId, Option<Name>)>,
    depth: usize,
}

impl<'a> Builder<'a> {
    pub fn new(graph: &'a Graph, schema: &'a apollo_compiler::Schema) -> Self {
        Self {
            graph,
            schema,
            groups: Vec::new(),
            touched: Vec::new(),
            jumping: Vec::new(),
            depth: 0,
        }
    }

    /// Plans the root fields. Returns the root groups in execution order.
    pub fn plan_root(&mut self, operation: &Operation) -> Result<Vec<GroupId>, PlanError> {
        let root_type = self
            .schema
            .root_operation(operation.kind)
            .ok_or(PlanError::NoRootType(operation.kind))?
            .clone();
        let fields = flatten_fields(self.graph, &root_type, &operation.selection);
        let mut roots: Vec<GroupId> = Vec::new();
        for field in fields {
            if field.name.starts_with("__") {
                continue;
            }
            let candidates = self.graph.resolvers(&root_type, &field.name);
            if candidates.is_empty() {
                return Err(PlanError::Unresolvable(format!(
                    "{root_type}.{}",
                    field.name
                )));
            }
            let kind = operation.kind;
            let reuse = |b: &Builder, roots: &[GroupId], s: SubgraphId| -> Option<GroupId> {
                match kind {
                    OperationType::Mutation => {
                        roots.last().copied().filter(|&g| b.groups[g].subgraph == s)
                    }
                    _ => roots.iter().copied().find(|&g| b.groups[g].subgraph == s),
                }
            };
            let scored = candidates
                .iter()
                .filter_map(|&s| {
                    let child = self.child_type(s, &root_type, field);
                    let provides = self
                        .graph
                        .field_in(s, &root_type, &field.name)
                        .and_then(|f| f.provides.as_ref());
                    let cost = if field.selection.0.is_empty() {
                        0
                    } else {
                        self.reach(s, &child, &field.selection, provides, &mut Vec::new(), 0)?
                    };
                    Some((cost, u32::from(reuse(self, &roots, s).is_none()), s))
                })
                .min();
            let placements: Vec<(SubgraphId, Field)> = match scored {
                Some((_, _, chosen)) => vec![(chosen, field.clone())],
                // No one subgraph has it all (shareable root fields over value types): each
                // subgraph fetches the part it can.
                None => self.split(&root_type, field, &candidates)?,
            };
            for (chosen, field) in placements {
                let group = match reuse(self, &roots, chosen) {
                    Some(g) => g,
                    None => {
                        roots.push(self.new_group(chosen, None, Vec::new()));
                        *roots.last().expect("just pushed")
                    }
                };
                let provides = self
                    .graph
                    .field_in(chosen, &root_type, &field.name)
                    .and_then(|f| f.provides.clone());
                self.add_field(
                    group,
                    &[],
                    &Vec::new(),
                    &root_type,
                    &field,
                    provides.as_ref(),
                )?;
            }
        }
        Ok(roots)
    }

    /// Splits a field's selection over the subgraphs that can each resolve part of it.
    fn split(
        &self,
        parent: &Name,
        field: &Field,
        candidates: &[SubgraphId],
    ) -> Result<Vec<(SubgraphId, Field)>, PlanError> {
        let unresolvable = || PlanError::Unresolvable(format!("{parent}.{}", field.name));
        let child_ty = field.ty.inner_named_type();
        let mut parts: Vec<(SubgraphId, SelectionSet)> = Vec::new();
        for sub in flatten_fields(self.graph, child_ty, &field.selection) {
            let one = SelectionSet(vec![Selection::Field(sub.clone())]);
            let (_, chosen) = candidates
                .iter()
                .filter_map(|&s| {
                    let child = self.child_type(s, parent, field);
                    self.reach(s, &child, &one, None, &mut Vec::new(), 0)
                        .map(|c| (c, s))
                })
                .min()
                .ok_or_else(unresolvable)?;
            match parts.iter_mut().find(|(s, _)| *s == chosen) {
                Some((_, set)) => set.0.push(Selection::Field(sub.clone())),
                None => parts.push((chosen, one)),
            }
        }
        Ok(parts
            .into_iter()
            .map(|(s, selection)| {
                (
                    s,
                    Field {
                        selection,
                        ..field.clone()
                    },
                )
            })
            .collect())
    }

    fn new_group(
        &mut self,
        subgraph: SubgraphId,
        parent: Option<(GroupId, Vec<Step>)>,
        path: Vec<PathSegment>,
    ) -> GroupId {
        self.groups.push(Group {
            subgraph,
            parent,
            path,
            selection: SelectionSet::default(),
            reps: Vec::new(),
            deps: BTreeSet::new(),
        });
        self.groups.len() - 1
    }

    fn touch(&mut self, g: GroupId) {
        if let Some(set) = self.touched.last_mut() {
            set.insert(g);
        }
    }

    /// The selection set at `pos` in group `g`, creating the steps on the way.
    fn at(&mut self, g: GroupId, pos: &[Step]) -> &mut SelectionSet {
        let mut set = &mut self.groups[g].selection;
        for step in pos {
            set = match step {
                Step::Field(field) => ensure_field(set, field),
                Step::Fragment(on) => ensure_fragment(set, on),
            };
        }
        set
    }

    fn add_typename(&mut self, g: GroupId, pos: &[Step]) {
        let typename = typename_field();
        ensure_field(self.at(g, pos), &typename);
        self.touch(g);
    }

    /// Walks `selection` (on `ty`) at `pos` of group `g`, whose objects sit at `path`.
    fn walk(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        self.depth += 1;
        if self.depth > MAX_WALK_DEPTH {
            self.depth -= 1;
            return Err(PlanError::TooDeep);
        }
        let result = self.walk_inner(g, pos, path, ty, selection, provided);
        self.depth -= 1;
        result
    }

    fn walk_inner(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let subgraph = self.groups[g].subgraph;
        if self.graph.is_abstract(ty) && !self.graph.is_interface_object(subgraph, ty) {
            self.add_typename(g, pos);
            let types: Vec<Name> = self.graph.possible_types_in(subgraph, ty).to_vec();
            for concrete in types {
                let fields = flatten_fields(self.graph, &concrete, selection);
                if fields.iter().all(|f| f.name == "__typename") {
                    continue;
                }
                let mut inner = pos.to_vec();
                inner.push(Step::Fragment(concrete.clone()));
                let sub = SelectionSet(fields.into_iter().cloned().map(Selection::Field).collect());
                let provided = provided.map(|p| narrow(self.graph, p, &concrete));
                self.walk_object(g, &inner, path, &concrete, &sub, provided.as_ref())?;
            }
            return Ok(());
        }
        self.walk_object(g, pos, path, ty, selection, provided)
    }

    /// Walks the fields of an object type (or of an interface a subgraph models as an object).
    fn walk_object(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let subgraph = self.groups[g].subgraph;
        let as_interface_object = self.graph.is_abstract(ty);
        let at_entity_root = self.groups[g].parent.is_some() && pos.len() == 1;
        let fields = if as_interface_object {
            // Fields the interface object itself has; anything on a concrete type needs the
            // subgraph that knows the concrete types.
            let mut direct = Vec::new();
            let mut elsewhere = Vec::new();
            let mut items: Vec<&Selection> = selection.0.iter().collect();
            while let Some(item) = items.pop() {
                match item {
                    Selection::Field(f)
                        if f.name != "__typename" && self.graph.resolves(subgraph, ty, &f.name) =>
                    {
                        direct.push(f)
                    }
                    Selection::Fragment(fragment) if &fragment.on == ty => {
                        items.extend(fragment.selection.0.iter());
                    }
                    // Declared on the interface by another subgraph (another interface
                    // object, or the owner): straight there, with the interface as the type.
                    Selection::Field(f)
                        if f.name != "__typename"
                            && !self.graph.resolvers(ty, &f.name).is_empty() =>
                    {
                        self.jump(g, pos, path, ty, f)?;
                    }
                    other => elsewhere.push(other.clone()),
                }
            }
            direct.reverse();
            elsewhere.reverse();
            if !elsewhere.is_empty() {
                self.jump_to_interface_owner(g, pos, path, ty, SelectionSet(elsewhere))?;
            }
            direct
        } else {
            flatten_fields(self.graph, ty, selection)
        };
        for field in fields {
            if field.name == "__typename" {
                continue;
            }
            let provided_field = provided.and_then(|p| find_field(p, &field.name));
            let declared = self.graph.field_in(subgraph, ty, &field.name);
            let requires = declared.and_then(|f| f.requires.as_ref());
            let local = (self.graph.resolves(subgraph, ty, &field.name)
                || provided_field.is_some())
                && (requires.is_none() || at_entity_root || provided_field.is_some());
            if local {
                if let (Some(requires), None, true) = (requires, provided_field, at_entity_root) {
                    self.require_at_root(g, ty, requires)?;
                }
                let child_provided =
                    match (provided_field, declared.and_then(|f| f.provides.as_ref())) {
                        (Some(p), _) if !p.selection.0.is_empty() => Some(p.selection.clone()),
                        (_, Some(p)) => Some(p.clone()),
                        _ => None,
                    };
                if field.selection.0.is_empty() {
                    self.add_field(g, pos, path, ty, field, child_provided.as_ref())?;
                    continue;
                }
                let child = self.child_type(subgraph, ty, field);
                let mut visiting = self.jumping.clone();
                let whole = self.reach(
                    subgraph,
                    &child,
                    &field.selection,
                    child_provided.as_ref(),
                    &mut visiting,
                    0,
                );
                if whole.is_some() || self.jump(g, pos, path, ty, field).is_err() {
                    if whole.is_some() {
                        self.add_field(g, pos, path, ty, field, child_provided.as_ref())?;
                    } else {
                        self.split_local(g, pos, path, ty, field, &child, child_provided.as_ref())?;
                    }
                }
            } else {
                self.jump(g, pos, path, ty, field)?;
            }
        }
        Ok(())
    }

    /// A field this subgraph resolves but whose selection it cannot fully answer (a value
    /// type other subgraphs extend): keep what it can, and fetch the rest of the field from
    /// subgraphs that can, through the parent's key.
    #[allow(clippy::too_many_arguments)]
    fn split_local(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        field: &Field,
        child: &Name,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let subgraph = self.groups[g].subgraph;
        let (mut here, mut elsewhere) = (Vec::new(), Vec::new());
        for sub in flatten_fields(self.graph, child, &field.selection) {
            let one = SelectionSet(vec![Selection::Field(sub.clone())]);
            let mut visiting = self.jumping.clone();
            if self
                .reach(subgraph, child, &one, provided, &mut visiting, 0)
                .is_some()
            {
                here.push(Selection::Field(sub.clone()));
            } else {
                elsewhere.push(Selection::Field(sub.clone()));
            }
        }
        if !here.is_empty() {
            let local = Field {
                selection: SelectionSet(here),
                ..field.clone()
            };
            self.add_field(g, pos, path, ty, &local, provided)?;
        }
        for sub in elsewhere {
            let remote = Field {
                selection: SelectionSet(vec![sub]),
                ..field.clone()
            };
            self.jump(g, pos, path, ty, &remote)?;
        }
        Ok(())
    }

    /// Adds `field` at `pos` of `g` and walks its selection in the same group.
    fn add_field(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        parent_ty: &Name,
        field: &Field,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let shell = Field {
            selection: SelectionSet::default(),
            ..field.clone()
        };
        ensure_field(self.at(g, pos), &shell);
        self.touch(g);
        if field.selection.0.is_empty() {
            return Ok(());
        }
        let mut inner = pos.to_vec();
        inner.push(Step::Field(shell));
        let child_path = extend_path(path, field);
        let subgraph = self.groups[g].subgraph;
        let child_ty = self.child_type(subgraph, parent_ty, field);
        if &child_ty != field.ty.inner_named_type()
            && self.graph.is_abstract(field.ty.inner_named_type())
        {
            // Narrower in this subgraph: the shaper still needs the concrete type.
            self.add_typename(g, &inner);
        }
        self.walk(
            g,
            &inner,
            &child_path,
            &child_ty,
            &field.selection,
            provided,
        )
    }

    /// The group a field is entity-fetched in: one per parent, subgraph and path.
    fn entity_group(
        &mut self,
        parent: GroupId,
        parent_pos: &[Step],
        subgraph: SubgraphId,
        path: &[PathSegment],
        touched: &BTreeSet<GroupId>,
        fields: &SelectionSet,
    ) -> GroupId {
        let reusable = (0..self.groups.len()).find(|&id| {
            let group = &self.groups[id];
            group.subgraph == subgraph
                && group.path == path
                && group.parent.as_ref().is_some_and(|(p, _)| *p == parent)
                // Its requirements must not come from fetches that wait for this group...
                && !touched.iter().any(|&t| t == id || self.depends_on(t, id))
                // ...and one representation cannot carry a field with two argument sets.
                && !group.reps.iter().any(|(_, _, existing)| conflicts(existing, fields))
        });
        if let Some(existing) = reusable {
            return existing;
        }
        let g = self.new_group(subgraph, Some((parent, parent_pos.to_vec())), path.to_vec());
        self.groups[g].deps.insert(parent);
        g
    }

    /// Resolves `field` of the object at `pos` in another subgraph (or the same one again, for
    /// fields with requirements), through an entity key.
    fn jump(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        field: &Field,
    ) -> Result<(), PlanError> {
        let from = self.groups[g].subgraph;
        let mut targets: Vec<(SubgraphId, Name)> = self
            .graph
            .resolvers(ty, &field.name)
            .into_iter()
            .map(|s| (s, ty.clone()))
            .collect();
        targets.extend(
            self.graph
                .interface_object_resolver(ty, &field.name)
                .into_iter()
                .map(|(interface, s)| (s, interface)),
        );
        let mut best: Option<(u32, SubgraphId, Name, Key)> = None;
        for (target, rep_ty) in targets {
            let mut visiting = self.jumping.clone();
            if let Some((cost, key)) =
                self.jump_cost(from, ty, target, &rep_ty, Some(field), &mut visiting, 0)
                && best.as_ref().is_none_or(|(c, ..)| cost < *c)
            {
                best = Some((cost, target, rep_ty, key));
            }
        }
        let Some((_, target, rep_ty, key)) = best else {
            // No one subgraph answers all of the field's selection: one jump per part.
            let child = field.ty.inner_named_type().clone();
            let parts = flatten_fields(self.graph, &child, &field.selection);
            if parts.len() > 1 {
                for sub in parts {
                    let part = Field {
                        selection: SelectionSet(vec![Selection::Field(sub.clone())]),
                        ..field.clone()
                    };
                    self.jump(g, pos, path, ty, &part)?;
                }
                return Ok(());
            }
            return Err(PlanError::Unresolvable(format!(
                "{ty}.{} from subgraph {}",
                field.name, self.graph.subgraphs[from].name
            )));
        };
        let requires = self
            .graph
            .field_in(target, &rep_ty, &field.name)
            .and_then(|f| f.requires.clone());
        let next = self.enter(
            g,
            pos,
            path,
            ty,
            target,
            &rep_ty,
            &key,
            requires.as_ref(),
            Some(&field.name),
        )?;
        let entity_pos = vec![Step::Fragment(rep_ty.clone())];
        let provides = self
            .graph
            .field_in(target, &rep_ty, &field.name)
            .and_then(|f| f.provides.clone());
        self.add_field(next, &entity_pos, path, &rep_ty, field, provides.as_ref())
    }

    /// Makes the key (and requirements) available on the object at `pos` of `g`, and returns
    /// the entity group in `target` that receives it.
    #[allow(clippy::too_many_arguments)]
    fn enter(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        target: SubgraphId,
        rep_ty: &Name,
        key: &Key,
        requires: Option<&SelectionSet>,
        field_name: Option<&Name>,
    ) -> Result<GroupId, PlanError> {
        self.jumping
            .push((rep_ty.clone(), target, field_name.cloned()));
        self.touched.push(BTreeSet::new());
        let walked = (|| {
            self.add_typename(g, pos);
            self.walk(g, pos, path, ty, &key.fields, None)?;
            if let Some(requires) = requires {
                self.walk(g, pos, path, ty, requires, None)?;
            }
            Ok(())
        })();
        let touched = self.touched.pop().unwrap_or_default();
        self.jumping.pop();
        walked?;
        let mut fields = key.fields.clone();
        if let Some(requires) = requires {
            merge_into(&mut fields, requires);
        }
        let next = self.entity_group(g, pos, target, path, &touched, &fields);
        self.add_rep(next, rep_ty, ty, fields);
        self.groups[next]
            .deps
            .extend(touched.into_iter().filter(|&t| t != next));
        Ok(next)
    }

    /// Sends the selections an interface object cannot answer (concrete-type fragments,
    /// `__typename`) to a subgraph that has the real interface.
    fn jump_to_interface_owner(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        interface: &Name,
        selection: SelectionSet,
    ) -> Result<(), PlanError> {
        let from = self.groups[g].subgraph;
        let owners: Vec<SubgraphId> = self
            .graph
            .type_subgraphs(interface)
            .filter(|&s| s != from && !self.graph.is_interface_object(s, interface))
            .collect();
        let mut best: Option<(u32, SubgraphId, Key)> = None;
        for target in owners {
            let mut visiting = self.jumping.clone();
            if let Some((cost, key)) =
                self.jump_cost(from, interface, target, interface, None, &mut visiting, 0)
                && best.as_ref().is_none_or(|(c, ..)| cost < *c)
            {
                best = Some((cost, target, key));
            }
        }
        let Some((_, target, key)) = best else {
            return Err(PlanError::Unresolvable(format!(
                "the concrete type of {interface} from subgraph {}",
                self.graph.subgraphs[from].name
            )));
        };
        let next = self.enter(g, pos, path, interface, target, interface, &key, None, None)?;
        let entity_pos = vec![Step::Fragment(interface.clone())];
        self.walk(next, &entity_pos, path, interface, &selection, None)
    }

    /// The cost of resolving `field` (or only entering, without one) of an object of type `ty`
    /// held in `from` by jumping to `target` (as `rep_ty`), with the cheapest key to use.
    #[allow(clippy::too_many_arguments)]
    fn jump_cost(
        &self,
        from: SubgraphId,
        ty: &Name,
        target: SubgraphId,
        rep_ty: &Name,
        field: Option<&Field>,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<(u32, Key)> {
        let marker = (rep_ty.clone(), target, field.map(|f| f.name.clone()));
        if depth > 16 || visiting.contains(&marker) {
            return None;
        }
        visiting.push(marker);
        let result = (|| {
            let mut best: Option<(u32, Key)> = None;
            for key in self.graph.resolvable_keys(target, rep_ty) {
                if let Some(cost) = self.reach(from, ty, &key.fields, None, visiting, depth + 1)
                    && best.as_ref().is_none_or(|(c, _)| cost < *c)
                {
                    best = Some((cost, key.clone()));
                }
            }
            let (key_cost, key) = best?;
            let mut cost = 10 + key_cost;
            if let Some(field) = field {
                if let Some(requires) = self
                    .graph
                    .field_in(target, rep_ty, &field.name)
                    .and_then(|f| f.requires.as_ref())
                {
                    cost += self.reach(from, ty, requires, None, visiting, depth + 1)?;
                }
                if !field.selection.0.is_empty() {
                    let child = self.child_type(target, rep_ty, field);
                    let provides = self
                        .graph
                        .field_in(target, rep_ty, &field.name)
                        .and_then(|f| f.provides.as_ref());
                    cost += self.reach(
                        target,
                        &child,
                        &field.selection,
                        provides,
                        visiting,
                        depth + 1,
                    )?;
                }
            }
            Some((cost, key))
        })();
        visiting.pop();
        result
    }

    /// The cost of making `selection` available on an object of type `ty` resolved in `from`
    /// (0 when `from` resolves it all); `None` when it cannot be done.
    fn reach(
        &self,
        from: SubgraphId,
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<u32> {
        if depth > 32 {
            return None;
        }
        let types: Vec<Name> =
            if self.graph.is_abstract(ty) && !self.graph.is_interface_object(from, ty) {
                self.graph.possible_types_in(from, ty).to_vec()
            } else {
                vec![ty.clone()]
            };
        let mut total = 0u32;
        for concrete in &types {
            for field in flatten_fields(self.graph, concrete, selection) {
                if field.name.starts_with("__") {
                    continue;
                }
                let provided_field = provided.and_then(|p| find_field(p, &field.name));
                let requires = self
                    .graph
                    .field_in(from, concrete, &field.name)
                    .and_then(|f| f.requires.as_ref());
                let local = provided_field.is_some()
                    || (self.graph.resolves(from, concrete, &field.name) && requires.is_none());
                if local {
                    if !field.selection.0.is_empty() {
                        let child = self.child_type(from, concrete, field);
                        let provides = provided_field.map(|p| &p.selection).or_else(|| {
                            self.graph
                                .field_in(from, concrete, &field.name)
                                .and_then(|f| f.provides.as_ref())
                        });
                        if let Some(cost) = self.reach(
                            from,
                            &child,
                            &field.selection,
                            provides,
                            visiting,
                            depth + 1,
                        ) {
                            total += cost;
                            continue;
                        }
                        // Not all of it here: what this subgraph lacks comes through the
                        // parent's key from elsewhere, one sub-field at a time.
                        let mut split = 0;
                        for sub in flatten_fields(self.graph, &child, &field.selection) {
                            let one = SelectionSet(vec![Selection::Field(sub.clone())]);
                            let cost =
                                match self.reach(from, &child, &one, provides, visiting, depth + 1)
                                {
                                    Some(cost) => cost,
                                    None => {
                                        let remote = Field {
                                            selection: one,
                                            ..field.clone()
                                        };
                                        self.jump_targets(concrete, &remote)
                                            .into_iter()
                                            .filter_map(|(target, rep_ty)| {
                                                self.jump_cost(
                                                    from,
                                                    concrete,
                                                    target,
                                                    &rep_ty,
                                                    Some(&remote),
                                                    visiting,
                                                    depth + 1,
                                                )
                                                .map(|(c, _)| c)
                                            })
                                            .min()?
                                    }
                                };
                            split += cost;
                        }
                        total += split;
                    }
                    continue;
                }
                total += self.jump_or_split_cost(from, concrete, field, visiting, depth + 1)?;
            }
        }
        Some(total)
    }

    /// The cheapest jump for `field`, or, when no subgraph answers its whole selection, the
    /// sum of the cheapest jumps for each of its parts.
    fn jump_or_split_cost(
        &self,
        from: SubgraphId,
        ty: &Name,
        field: &Field,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<u32> {
        let whole = self
            .jump_targets(ty, field)
            .into_iter()
            .filter_map(|(target, rep_ty)| {
                self.jump_cost(from, ty, target, &rep_ty, Some(field), visiting, depth)
                    .map(|(c, _)| c)
            })
            .min();
        if whole.is_some() {
            return whole;
        }
        let parts = flatten_fields(self.graph, field.ty.inner_named_type(), &field.selection);
        if parts.len() < 2 {
            return None;
        }
        let mut total = 0;
        for sub in parts {
            let part = Field {
                selection: SelectionSet(vec![Selection::Field(sub.clone())]),
                ..field.clone()
            };
            total += self.jump_or_split_cost(from, ty, &part, visiting, depth + 1)?;
        }
        Some(total)
    }

    /// Where `ty.field` can be resolved: subgraphs resolving it on the type itself, then
    /// `@interfaceObject`s of its interfaces (with the interface as the entity type).
    fn jump_targets(&self, ty: &Name, field: &Field) -> Vec<(SubgraphId, Name)> {
        let mut targets: Vec<(SubgraphId, Name)> = self
            .graph
            .resolvers(ty, &field.name)
            .into_iter()
            .map(|s| (s, ty.clone()))
            .collect();
        targets.extend(
            self.graph
                .interface_object_resolver(ty, &field.name)
                .into_iter()
                .map(|(interface, s)| (s, interface)),
        );
        targets
    }

    /// The type `field`'s objects have in `subgraph` (which may be narrower than the
    /// supergraph's).
    fn child_type(&self, subgraph: SubgraphId, parent: &Name, field: &Field) -> Name {
        self.graph
            .field_type_in(subgraph, parent, &field.name)
            .cloned()
            .unwrap_or_else(|| field.ty.inner_named_type().clone())
    }

    /// `field` is resolved at the root of entity group `g` but needs other fields of the same
    /// object: fetch them in the group's parent first.
    fn require_at_root(
        &mut self,
        g: GroupId,
        ty: &Name,
        requires: &SelectionSet,
    ) -> Result<(), PlanError> {
        let Some((parent, parent_pos)) = self.groups[g].parent.clone() else {
            return Ok(());
        };
        let path = self.groups[g].path.clone();
        self.touched.push(BTreeSet::new());
        let walked = self.walk(parent, &parent_pos, &path, ty, requires, None);
        let touched = self.touched.pop().unwrap_or_default();
        walked?;
        let typename = match self.groups[g]
            .reps
            .iter()
            .find(|(_, matches, _)| matches.contains(ty))
        {
            Some((typename, _, _)) => typename.clone(),
            None => ty.clone(),
        };
        self.add_rep(g, &typename, ty, requires.clone());
        self.groups[g]
            .deps
            .extend(touched.into_iter().filter(|&t| t != g));
        Ok(())
    }

    /// Whether group `a` waits (directly or not) for group `b`.
    fn depends_on(&self, a: GroupId, b: GroupId) -> bool {
        let mut stack = vec![a];
        let mut seen = BTreeSet::new();
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            for &dep in &self.groups[g].deps {
                if dep == b {
                    return true;
                }
                stack.push(dep);
            }
        }
        false
    }

    fn add_rep(&mut self, g: GroupId, typename: &Name, concrete: &Name, fields: SelectionSet) {
        let reps = &mut self.groups[g].reps;
        match reps
            .iter_mut()
            .find(|(t, m, _)| t == typename && m.contains(concrete))
        {
            Some((_, _, existing)) => merge_into(existing, &fields),
            None => {
                let mut matches = vec![concrete.clone()];
                if typename != concrete {
                    matches.push(typename.clone());
                }
                reps.push((typename.clone(), matches, fields));
            }
        }
    }
}

/// The fields of `selection` that apply to objects of type `ty`, fragments flattened.
pub(super) fn flatten_fields<'s>(
    graph: &Graph,
    ty: &Name,
    selection: &'s SelectionSet,
) -> Vec<&'s Field> {
    let mut out = Vec::new();
    fn go<'s>(graph: &Graph, ty: &Name, selection: &'s SelectionSet, out: &mut Vec<&'s Field>) {
        for item in &selection.0 {
            match item {
                Selection::Field(f) => out.push(f),
                Selection::Fragment(fragment) => {
                    if applies(graph, &fragment.on, ty) {
                        go(graph, ty, &fragment.selection, out);
                    }
                }
            }
        }
    }
    go(graph, ty, selection, &mut out);
    out
}

/// Whether a fragment on `on` applies to an object of type `ty`.
pub(super) fn applies(graph: &Graph, on: &Name, ty: &Name) -> bool {
    on == ty
        || graph.possible_types(on).contains(ty)
        || (graph.is_abstract(ty)
            && graph
                .possible_types(ty)
                .iter()
                .any(|t| graph.possible_types(on).contains(t)))
}

/// The part of a provided field set that applies to `ty`.
fn narrow(graph: &Graph, provided: &SelectionSet, ty: &Name) -> SelectionSet {
    SelectionSet(
        flatten_fields(graph, ty, provided)
            .into_iter()
            .cloned()
            .map(Selection::Field)
            .collect(),
    )
}

fn find_field<'s>(set: &'s SelectionSet, name: &str) -> Option<&'s Field> {
    set.0.iter().find_map(|item| match item {
        Selection::Field(f) if f.name == name => Some(f),
        Selection::Fragment(fragment) => find_field(&fragment.selection, name),
        _ => None,
    })
}

fn extend_path(path: &[PathSegment], field: &Field) -> Vec<PathSegment> {
    let mut out = path.to_vec();
    out.push(PathSegment::Key(field.key().clone()));
    let mut ty = &field.ty;
    loop {
        match ty {
            Type::NonNullNamed(_) | Type::Named(_) => break,
            Type::List(inner) | Type::NonNullList(inner) => {
                out.push(PathSegment::List);
                ty = inner;
            }
        }
    }
    out
}

fn typename_field() -> Field {
    Field {
        alias: None,
        name: Name::new_unchecked("__typename"),
        arguments: Vec::new(),
        ty: Type::NonNullNamed(Name::new_unchecked("String")),
        selection: SelectionSet::default(),
    }
}

fn ensure_field<'s>(set: &'s mut SelectionSet, field: &Field) -> &'s mut SelectionSet {
    let index = match set
        .0
        .iter()
        .position(|item| matches!(item, Selection::Field(f) if f.same_field(field)))
    {
        Some(i) => i,
        None => {
            set.0.push(Selection::Field(Field {
                selection: SelectionSet::default(),
                ..field.clone()
            }));
            set.0.len() - 1
        }
    };
    match &mut set.0[index] {
        Selection::Field(f) => &mut f.selection,
        Selection::Fragment(_) => unreachable!("the index points at a field"),
    }
}

fn ensure_fragment<'s>(set: &'s mut SelectionSet, on: &Name) -> &'s mut SelectionSet {
    let index = match set
        .0
        .iter()
        .position(|item| matches!(item, Selection::Fragment(f) if &f.on == on))
    {
        Some(i) => i,
        None => {
            set.0.push(Selection::Fragment(Fragment {
                on: on.clone(),
                selection: SelectionSet::default(),
            }));
            set.0.len() - 1
        }
    };
    match &mut set.0[index] {
        Selection::Fragment(f) => &mut f.selection,
        Selection::Field(_) => unreachable!("the index points at a fragment"),
    }
}

/// Whether two representation field sets name the same field with different arguments.
fn conflicts(a: &SelectionSet, b: &SelectionSet) -> bool {
    let fields = |set: &SelectionSet| -> Vec<Field> {
        let mut out = Vec::new();
        let mut stack: Vec<&SelectionSet> = vec![set];
        while let Some(set) = stack.pop() {
            for item in &set.0 {
                match item {
                    Selection::Field(f) => out.push(f.clone()),
                    Selection::Fragment(fragment) => stack.push(&fragment.selection),
                }
            }
        }
        out
    };
    let (a, b) = (fields(a), fields(b));
    a.iter().any(|x| {
        b.iter().any(|y| {
            x.name == y.name
                && (x.arguments != y.arguments || conflicts(&x.selection, &y.selection))
        })
    })
}

/// Adds the selections of `from` to `into`, merging fields and fragments that match.
pub(super) fn merge_into(into: &mut SelectionSet, from: &SelectionSet) {
    for item in &from.0 {
        match item {
            Selection::Field(f) => {
                let child = ensure_field(into, f);
                merge_into(child, &f.selection);
            }
            Selection::Fragment(fragment) => {
                let child = ensure_fragment(into, &fragment.on);
                merge_into(child, &fragment.selection);
            }
        }
    }
}
