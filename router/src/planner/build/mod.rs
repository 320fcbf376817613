//! Building fetch groups: walk the operation from the root, keep each field in the subgraph
//! that is already resolving its parent when it can, and otherwise jump to a subgraph that
//! resolves it through an entity key (adding the key, and any `@requires` fields, to the
//! fetch that produces the parent object).
//!
//! - `jump`: entity jumps (keys and requirements walked into the parent's fetch).
//! - `reach`: what a selection costs from a subgraph, to choose where fields go.
//! - `selection`: editing the selection sets of fetch groups.

mod context;
mod jump;
mod reach;
mod selection;

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;

use super::PlanError;
use super::budget::Budget;
use super::graph::{Graph, SubgraphId};
use super::operation::{Condition, Field, Operation, Selection, SelectionSet};
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
    /// For an entity fetch: the `@skip`/`@include` conditions of the fields above its
    /// objects, in this group's ancestors. Objects at its path may also come from an
    /// unconditional selection of the same response key, so the fetch is sent only when
    /// these hold.
    pub context: Vec<Condition>,
    /// For an entity fetch: the conditions under which every object it is sent has all its
    /// representation fields (those of the selections of the objects the fields were
    /// written under, in the parent fetch). The fetch may be sent only when these hold.
    pub rep_when: Vec<Condition>,
    /// For an entity fetch: the context arguments of its fields, with where their values
    /// come from.
    pub contexts: Vec<context::ContextUse>,
}

/// A position inside a group's selection.
#[derive(Debug, Clone)]
pub(super) enum Step {
    Field(Field),
    Fragment(Name),
}

/// A jump a cost search has counted: (from subgraph, object type, target subgraph,
/// representation type).
pub(super) type Priced = (SubgraphId, Name, SubgraphId, Name);

/// What a reach cost depends on when no key walk is under way.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct ReachKey {
    from: SubgraphId,
    ty: Name,
    selection: SelectionSet,
    provided: Option<SelectionSet>,
}

pub(super) struct Builder<'a> {
    graph: &'a Graph,
    schema: &'a apollo_compiler::Schema,
    budget: &'a Budget,
    /// Costs already worked out: the same sub-selection is costed from the same subgraph once.
    reach_memo: RefCell<HashMap<ReachKey, Option<u32>, ahash::RandomState>>,
    /// The jumps the cost search under way has counted: one met again costs nothing more.
    priced: RefCell<Vec<Priced>>,
    /// The jumps the plan makes so far, each with the root fetch it is under: a search for
    /// another field counts them as made (fetches to one subgraph from one level go as one
    /// request), except under another root field of a mutation, which runs apart.
    made: Vec<(GroupId, Priced)>,
    /// Whether the operation is a mutation.
    mutation: bool,
    pub groups: Vec<Group>,
    /// Groups touched while walking keys and requirements, innermost last.
    touched: Vec<BTreeSet<GroupId>>,
    /// Per walk of keys and requirements, innermost last (beside `touched`): for an entity
    /// jump being set up, the conditions of the fields its walks wrote (what its
    /// representation is present under); `None` for the walks of a requirement at a fetch's
    /// root or of a context value, whose fields are written unconditionally (the conditions
    /// they serve under are those the fetch is sent under so far, which later fields widen).
    walked_under: Vec<Option<Vec<Condition>>>,
    /// The (type, subgraph) jumps being set up, so key walks cannot go round in circles.
    jumping: Vec<(Name, SubgraphId, Option<Name>)>,
    /// Per walked field: the subgraphs that could resolve the path from its nearest entity.
    candidates: Vec<Vec<SubgraphId>>,
    depth: usize,
    /// Fields of the operation no subgraph can resolve where they are asked for.
    pub unresolvable: Vec<super::plan::Unresolvable>,
    /// Selections that cannot be planned, under conditions: refused when those hold.
    pub refused: Vec<super::plan::Refused>,
    /// How many abstract types' member branches the walk is inside.
    member_branches: usize,
    /// The operation's root type.
    root_type: Name,
    /// The variables the client's operation declares: the plan's own must not meet them.
    client_variables: Vec<Name>,
    /// How many variables of its own the plan has named.
    variables_made: usize,
    /// While walking the keys and requirements of a conditional field: its conditions.
    /// Fetches made there serve only that field, so they wait for them too.
    serving: Vec<Condition>,
}

impl<'a> Builder<'a> {
    pub fn new(graph: &'a Graph, schema: &'a apollo_compiler::Schema, budget: &'a Budget) -> Self {
        Self {
            graph,
            schema,
            budget,
            reach_memo: RefCell::default(),
            priced: RefCell::default(),
            made: Vec::new(),
            mutation: false,
            groups: Vec::new(),
            touched: Vec::new(),
            walked_under: Vec::new(),
            jumping: Vec::new(),
            candidates: Vec::new(),
            depth: 0,
            unresolvable: Vec::new(),
            refused: Vec::new(),
            member_branches: 0,
            root_type: Name::new_unchecked("Query"),
            client_variables: Vec::new(),
            variables_made: 0,
            serving: Vec::new(),
        }
    }

    /// Plans the root fields. Returns the root groups in execution order.
    pub fn plan_root(&mut self, operation: &Operation) -> Result<Vec<GroupId>, PlanError> {
        let root_type = self
            .schema
            .root_operation(operation.kind)
            .ok_or(PlanError::NoRootType(operation.kind))?
            .clone();
        self.root_type = root_type.clone();
        self.mutation = operation.kind == OperationType::Mutation;
        self.client_variables = operation.variables.iter().map(|v| v.name.clone()).collect();
        let mut fields = merged(flatten_fields(self.graph, &root_type, &operation.selection));
        if operation.kind != OperationType::Mutation {
            // Fields fewer subgraphs answer best are placed first, so that those more can
            // answer as well join a fetch already made rather than open one of their own
            // (query root fields run in any order; mutation fields keep theirs); then those
            // under fewer conditions, as in `walk_order`.
            let mut keyed: Vec<_> = fields
                .into_iter()
                .map(|f| {
                    (
                        self.best_root_candidates(&root_type, &f),
                        f.conditions.len(),
                        f,
                    )
                })
                .collect();
            keyed.sort_by_key(|(best, conditions, _)| (*best, *conditions));
            fields = keyed.into_iter().map(|(_, _, f)| f).collect();
        }
        let mut roots: Vec<GroupId> = Vec::new();
        let mut fallback: Option<PlanError> = None;
        for field in &fields {
            let field = field.as_ref();
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
            let fetched = |b: &Builder, roots: &[GroupId]| -> Vec<SubgraphId> {
                match kind {
                    OperationType::Mutation => roots
                        .last()
                        .map(|&g| b.groups[g].subgraph)
                        .into_iter()
                        .collect(),
                    _ => roots.iter().map(|&g| b.groups[g].subgraph).collect(),
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
                // subgraph fetches the part it can. When some part is out of every
                // subgraph's reach, the first subgraph answers what it can and the walk
                // reports the rest as unresolvable.
                None => match self.split(&root_type, field, &candidates, &fetched(self, &roots)) {
                    Ok(parts) => parts,
                    Err(e @ PlanError::Unresolvable(_)) if !self.budget.spent() => {
                        fallback = Some(e);
                        vec![(candidates[0], field.clone())]
                    }
                    Err(e) => return Err(e),
                },
            };
            let unresolvable_before = self.unresolvable.len() + self.refused.len();
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
                self.candidates
                    .push(self.graph.type_subgraphs(&root_type).collect());
                let added = self.add_field(
                    group,
                    &[],
                    &Vec::new(),
                    &root_type,
                    &field,
                    provides.as_ref(),
                );
                self.candidates.pop();
                added?;
            }
            // The fallback must have found what cannot be resolved; a walk that finds nothing
            // would send a subgraph what the cost search already knew it cannot answer.
            if let Some(e) = fallback.take()
                && self.unresolvable.len() + self.refused.len() == unresolvable_before
            {
                return Err(e);
            }
        }
        Ok(roots)
    }

    /// Splits a field's selection over the subgraphs that can each resolve part of it.
    /// Parts fewer subgraphs answer best are placed first; a part several subgraphs answer
    /// equally well joins one already chosen for this field, else one of `fetched` (the
    /// subgraphs the operation already fetches from), so no subgraph is asked for what
    /// another request already carries.
    pub(super) fn split(
        &self,
        parent: &Name,
        field: &Field,
        candidates: &[SubgraphId],
        fetched: &[SubgraphId],
    ) -> Result<Vec<(SubgraphId, Field)>, PlanError> {
        let unresolvable = || PlanError::Unresolvable(format!("{parent}.{}", field.name));
        let child_ty = field.ty.inner_named_type();
        let subs = flatten_fields(self.graph, child_ty, &field.selection);
        let mut best: Vec<Vec<SubgraphId>> = Vec::with_capacity(subs.len());
        for sub in &subs {
            let one = SelectionSet(vec![Selection::Field(Field::clone(sub))]);
            let costs: Vec<(u32, SubgraphId)> = candidates
                .iter()
                .filter_map(|&s| {
                    let child = self.child_type(s, parent, field);
                    self.reach(s, &child, &one, None, &mut Vec::new(), 0)
                        .map(|c| (c, s))
                })
                .collect();
            let least = costs
                .iter()
                .map(|(c, _)| *c)
                .min()
                .ok_or_else(unresolvable)?;
            best.push(
                costs
                    .into_iter()
                    .filter(|(c, _)| *c == least)
                    .map(|(_, s)| s)
                    .collect(),
            );
        }
        let mut order: Vec<usize> = (0..subs.len()).collect();
        order.sort_by_key(|&i| best[i].len());
        let mut chosen: Vec<Option<SubgraphId>> = vec![None; subs.len()];
        let mut taken: Vec<SubgraphId> = Vec::new();
        for i in order {
            let options = &best[i];
            let s = options
                .iter()
                .copied()
                .find(|s| taken.contains(s))
                .or_else(|| options.iter().copied().find(|s| fetched.contains(s)))
                .unwrap_or(options[0]);
            if !taken.contains(&s) {
                taken.push(s);
            }
            chosen[i] = Some(s);
        }
        // Parts keep the order of the operation's fields.
        let mut parts: Vec<(SubgraphId, SelectionSet)> = Vec::new();
        for (sub, s) in subs.iter().zip(chosen) {
            let s = s.expect("every part is placed");
            let one = Selection::Field(Field::clone(sub));
            match parts.iter_mut().find(|(p, _)| *p == s) {
                Some((_, set)) => set.0.push(one),
                None => parts.push((s, SelectionSet(vec![one]))),
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

    pub(super) fn new_group(
        &mut self,
        subgraph: SubgraphId,
        parent: Option<(GroupId, Vec<Step>)>,
        path: Vec<PathSegment>,
    ) -> GroupId {
        let context = match &parent {
            Some((p, pos)) => self.context_at(*p, pos),
            None => Vec::new(),
        };
        self.groups.push(Group {
            subgraph,
            parent,
            path,
            selection: SelectionSet::default(),
            reps: Vec::new(),
            deps: BTreeSet::new(),
            rep_when: context.clone(),
            context,
            contexts: Vec::new(),
        });
        self.groups.len() - 1
    }

    /// The conditions a fetch made for objects at position `pos` of group `g` waits for:
    /// those the objects are selected under, and those of the field being served.
    fn context_at(&self, g: GroupId, pos: &[Step]) -> Vec<Condition> {
        let mut context = self.selected_when(g, pos);
        for condition in &self.serving {
            if !context.contains(condition) {
                context.push(condition.clone());
            }
        }
        context.sort();
        context
    }

    /// The conditions objects at position `pos` of group `g` are selected under (what a
    /// field written there is present under).
    fn selected_when(&self, g: GroupId, pos: &[Step]) -> Vec<Condition> {
        let mut context = self.groups[g].context.clone();
        let steps = pos.iter().filter_map(|step| match step {
            Step::Field(field) => Some(&field.conditions),
            Step::Fragment(_) => None,
        });
        for condition in steps.flatten() {
            if !context.contains(condition) {
                context.push(condition.clone());
            }
        }
        context.sort();
        context
    }

    /// Runs `walk` with `conditions` added to those the fetches it makes wait for.
    pub(super) fn serving<T>(
        &mut self,
        conditions: &[Condition],
        walk: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let before = self.serving.len();
        for condition in conditions {
            if !self.serving.contains(condition) {
                self.serving.push(condition.clone());
            }
        }
        let out = walk(self);
        self.serving.truncate(before);
        out
    }

    /// Runs `walk` with `conditions`, and no others, as those the fetches it makes wait for.
    pub(super) fn serving_only<T>(
        &mut self,
        conditions: Vec<Condition>,
        walk: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let outer = std::mem::replace(&mut self.serving, conditions);
        let out = walk(self);
        self.serving = outer;
        out
    }

    pub(super) fn touch(&mut self, g: GroupId) {
        if let Some(set) = self.touched.last_mut() {
            set.insert(g);
        }
    }

    /// The selection set at `pos` in group `g`, creating the steps on the way.
    pub(super) fn at(&mut self, g: GroupId, pos: &[Step]) -> &mut SelectionSet {
        let mut set = &mut self.groups[g].selection;
        for step in pos {
            set = match step {
                Step::Field(field) => ensure_field(set, field),
                Step::Fragment(on) => ensure_fragment(set, on),
            };
        }
        set
    }

    pub(super) fn add_typename(&mut self, g: GroupId, pos: &[Step]) {
        // Never conditional: the subgraph may be one whose validation does not look at the
        // directives of `__typename` (async-graphql's), and would find their variables unused.
        let mut typename = typename_field();
        self.walked_field(g, pos, &mut typename, false);
        ensure_field(self.at(g, pos), &typename);
        self.touch(g);
    }

    /// A field a key or requirement walk for an entity jump writes at the top of fetch `g`
    /// (`pos` is at its root, or in its entity fragment) serves only the field being walked
    /// for: it carries that field's conditions (those `pos` is not already selected under),
    /// so that a fetch whose other fields the variables exclude is not sent for it. The same
    /// field already there under some of those conditions is present whenever this one would
    /// be, and is used instead. Deeper down, under a field of the fetch's own, it stays
    /// unconditional: the fetch's sending does not depend on it, and fetches for fields
    /// under different conditions can then share it. The conditions it ends with, and those
    /// of its position, are recorded for the jump. Fields of the client's own selection are
    /// left as they are; so are those with `conditional` false, only recorded.
    fn walked_field(&mut self, g: GroupId, pos: &[Step], field: &mut Field, conditional: bool) {
        let Some(Some(_)) = self.walked_under.last() else {
            return;
        };
        let above = self.selected_when(g, pos);
        let top = pos.iter().all(|step| matches!(step, Step::Fragment(_)));
        if conditional && top {
            for condition in &self.serving {
                if !above.contains(condition) && !field.conditions.contains(condition) {
                    field.conditions.push(condition.clone());
                }
            }
            field.conditions.sort_unstable();
            let fewer = self
                .at(g, pos)
                .0
                .iter()
                .filter_map(|item| match item {
                    Selection::Field(f)
                        if f.key() == field.key()
                            && f.name == field.name
                            && f.arguments == field.arguments
                            && f.conditions.iter().all(|c| field.conditions.contains(c)) =>
                    {
                        Some(&f.conditions)
                    }
                    _ => None,
                })
                .min_by_key(|conditions| conditions.len())
                .cloned();
            if let Some(fewer) = fewer {
                field.conditions = fewer;
            }
        }
        if let Some(Some(under)) = self.walked_under.last_mut() {
            for condition in above.iter().chain(&field.conditions) {
                if !under.contains(condition) {
                    under.push(condition.clone());
                }
            }
        }
    }

    /// Walks `selection` (on `ty`) at `pos` of group `g`, whose objects sit at `path`.
    pub(super) fn walk(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        if !self.budget.step() {
            return Err(PlanError::BudgetExceeded);
        }
        self.depth += 1;
        if self.depth > MAX_WALK_DEPTH {
            self.depth -= 1;
            return Err(PlanError::TooDeep);
        }
        let result = self.walk_inner(g, pos, path, ty, selection, provided);
        self.depth -= 1;
        result
    }

    pub(super) fn walk_inner(
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
            let types: Vec<Name> = self.safe_types(subgraph, ty);
            // Fields this subgraph resolves alike on every member stay on the abstract type,
            // once; only the rest is planned per member. Without this, nested selections on
            // an interface with n members would be planned n^depth times.
            let (uniform, rest) = if provided.is_none()
                && types.len() == self.graph.possible_types_in(subgraph, ty).len()
            {
                self.uniform_fields(subgraph, ty, &types, selection)
            } else {
                (Vec::new(), selection.clone())
            };
            for field in uniform {
                self.add_field(g, pos, path, ty, field, None)?;
            }
            for concrete in types {
                let fields = flatten_fields(self.graph, &concrete, &rest);
                if fields.iter().all(|f| f.name == "__typename") {
                    continue;
                }
                let mut inner = pos.to_vec();
                inner.push(Step::Fragment(concrete.clone()));
                let sub = SelectionSet(fields.into_iter().cloned().map(Selection::Field).collect());
                let provided = provided.map(|p| narrow(self.graph, p, &concrete));
                self.member_branches += 1;
                let walked = self.walk_object(g, &inner, path, &concrete, &sub, provided.as_ref());
                self.member_branches -= 1;
                walked?;
            }
            return Ok(());
        }
        self.walk_object(g, pos, path, ty, selection, provided)
    }

    /// Splits `selection` on the abstract type `ty` into the fields `subgraph` resolves on
    /// the abstract type itself and alike on each of `members` (no requirements, the same type
    /// everywhere), and the rest: fields it does not, and fragments on other types.
    fn uniform_fields<'s>(
        &self,
        subgraph: SubgraphId,
        ty: &Name,
        members: &[Name],
        selection: &'s SelectionSet,
    ) -> (Vec<&'s Field>, SelectionSet) {
        let mut uniform = Vec::new();
        let mut rest = Vec::new();
        let mut stack: Vec<&'s Selection> = selection.0.iter().rev().collect();
        while let Some(item) = stack.pop() {
            match item {
                Selection::Fragment(fragment) if &fragment.on == ty => {
                    stack.extend(fragment.selection.0.iter().rev());
                }
                Selection::Field(field)
                    if field.name != "__typename" && self.uniform(subgraph, ty, members, field) =>
                {
                    uniform.push(field);
                }
                // `__typename` is already there.
                Selection::Field(field) if field.name == "__typename" => {}
                other => rest.push(other.clone()),
            }
        }
        (uniform, SelectionSet(rest))
    }

    fn uniform(&self, subgraph: SubgraphId, ty: &Name, members: &[Name], field: &Field) -> bool {
        let declared = |on: &Name| {
            self.graph.resolves(subgraph, on, &field.name)
                && self
                    .graph
                    .field_in(subgraph, on, &field.name)
                    .is_none_or(|f| f.requires.is_none() && f.type_in_graph.is_none())
        };
        self.schema.type_field(ty, &field.name).is_ok()
            && declared(ty)
            && members.iter().all(|member| {
                declared(member)
                    && self
                        .graph
                        .field_type_in(subgraph, member, &field.name)
                        .is_none()
            })
    }

    /// Walks the fields of an object type (or of an interface a subgraph models as an object).
    pub(super) fn walk_object(
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
                        self.jump_with(g, pos, path, ty, f, true)?;
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
        for field in walk_order(fields) {
            let field = field.as_ref();
            if field.name == "__typename" {
                continue;
            }
            let provided_field =
                provided.and_then(|p| provided_field(self.graph, p, ty, &field.name));
            let declared = self.graph.field_in(subgraph, ty, &field.name);
            let requires = declared.and_then(|f| f.requires.as_ref());
            // A field taking arguments from an ancestor's context is an entity field: its
            // fetch is where the values are passed in.
            let contextual = declared.is_some_and(|f| !f.context.is_empty());
            let local = (self.graph.resolves(subgraph, ty, &field.name)
                || provided_field.is_some())
                && (at_entity_root
                    || (!contextual && (requires.is_none() || provided_field.is_some())));
            // The field as the client selected it: what another subgraph is asked for, which
            // takes its own context arguments, if any.
            let original = field;
            let with_context;
            let field = if local && contextual {
                with_context = self.with_context(g, ty, field)?;
                &with_context
            } else {
                field
            };
            if local {
                if let (Some(requires), None, true) = (requires, provided_field, at_entity_root) {
                    let conditions = self.kept_while_sent(g, &field.conditions);
                    self.serving_only(conditions, |b| b.require_at_root(g, ty, requires))?;
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
                let whole = self.priced_apart(|| {
                    self.reach(
                        subgraph,
                        &child,
                        &field.selection,
                        child_provided.as_ref(),
                        &mut visiting,
                        0,
                    )
                });
                if whole.is_some() || !self.jumped_whole(g, pos, path, ty, original) {
                    if whole.is_some() {
                        self.add_field(g, pos, path, ty, field, child_provided.as_ref())?;
                    } else {
                        let fields = (field, original);
                        self.split_local(
                            g,
                            pos,
                            path,
                            ty,
                            fields,
                            &child,
                            child_provided.as_ref(),
                        )?;
                    }
                }
            } else if let Err(e) = self.jump_with(g, pos, path, ty, field, true) {
                let above = self.context_at(g, pos);
                self.give_up(e, path, ty, field, above)?;
            }
        }
        Ok(())
    }

    /// Tries to fetch all of `field` elsewhere, in one jump: false when it cannot, also when
    /// part of it could be planned only as refused under its conditions (the field is then
    /// better kept here, with only the rest fetched elsewhere).
    fn jumped_whole(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        field: &Field,
    ) -> bool {
        let refused = self.refused.len();
        let jumped = self.jump_with(g, pos, path, ty, field, false).is_ok();
        if self.refused.len() > refused {
            self.refused.truncate(refused);
            return false;
        }
        jumped
    }

    /// How many subgraphs answer root field `field` at the lowest cost (1 when none can
    /// answer it whole).
    fn best_root_candidates(&self, root_type: &Name, field: &Field) -> usize {
        let candidates = self.graph.resolvers(root_type, &field.name);
        let costs: Vec<u32> = candidates
            .iter()
            .filter_map(|&s| {
                if field.selection.0.is_empty() {
                    return Some(0);
                }
                let child = self.child_type(s, root_type, field);
                let provides = self
                    .graph
                    .field_in(s, root_type, &field.name)
                    .and_then(|f| f.provides.as_ref());
                self.reach(s, &child, &field.selection, provides, &mut Vec::new(), 0)
            })
            .collect();
        match costs.iter().min() {
            Some(min) => costs.iter().filter(|c| *c == min).count(),
            // Split over several subgraphs: its parts are placed with the fields only one
            // subgraph answers, so that fields several subgraphs answer can join them.
            None => 1,
        }
    }

    /// A client field that cannot be resolved where it is asked for becomes a field error
    /// (the rest of the operation is still planned), unless the field is needed by the plan
    /// itself (a key or requirement being walked), the search was cut short by the budget, or
    /// the field sits on an abstract type or in one member's branch of one: there a
    /// supergraph whose members cannot be completed is refused as the reference gateways
    /// refuse it. `above` are the conditions of the fields above it: where they do not hold,
    /// the field is not selected, even if its parent object is there through another
    /// selection of the same key.
    fn give_up(
        &mut self,
        error: PlanError,
        path: &[PathSegment],
        ty: &Name,
        field: &Field,
        mut above: Vec<Condition>,
    ) -> Result<(), PlanError> {
        if !matches!(error, PlanError::Unresolvable(_))
            || !self.touched.is_empty()
            || self.budget.spent()
        {
            return Err(error);
        }
        for condition in &field.conditions {
            if !above.contains(condition) {
                above.push(condition.clone());
            }
        }
        above.sort();
        if self.member_branches > 0
            || !matches!(
                self.schema.types.get(ty),
                Some(apollo_compiler::schema::ExtendedType::Object(_))
            )
        {
            // Refused as the reference gateways refuse it, but only where the variables
            // select it: a request that skips it gets its answer.
            if above.is_empty() {
                return Err(error);
            }
            self.refused.push(super::plan::Refused {
                reason: error.to_string(),
                conditions: above,
            });
            return Ok(());
        }
        self.unresolvable.push(super::plan::Unresolvable {
            path: path.to_vec(),
            parent_type: ty.to_string(),
            key: field.key().to_string(),
            field: field.name.to_string(),
            conditions: above,
        });
        Ok(())
    }

    /// A field this subgraph resolves but whose selection it cannot fully answer (a value
    /// type other subgraphs extend): keep what it can, and fetch the rest of the field from
    /// subgraphs that can, through the parent's key. `fields` is the field as this subgraph
    /// takes it (its context arguments passed in) and as the client selected it, which is
    /// what the others are asked for.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn split_local(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        (field, original): (&Field, &Field),
        child: &Name,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let subgraph = self.groups[g].subgraph;
        let (mut here, mut elsewhere) = (Vec::new(), Vec::new());
        for sub in flatten_fields(self.graph, child, &field.selection) {
            let one = SelectionSet(vec![Selection::Field(sub.clone())]);
            let mut visiting = self.jumping.clone();
            if self
                .priced_apart(|| self.reach(subgraph, child, &one, provided, &mut visiting, 0))
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
                selection: SelectionSet(vec![sub.clone()]),
                ..original.clone()
            };
            if let Err(e) = self.jump_with(g, pos, path, ty, &remote, true) {
                let Selection::Field(sub) = &sub else {
                    return Err(e);
                };
                let mut above = self.context_at(g, pos);
                for condition in &field.conditions {
                    if !above.contains(condition) {
                        above.push(condition.clone());
                    }
                }
                self.give_up(e, &extend_path(path, field), child, sub, above)?;
            }
        }
        Ok(())
    }

    /// Adds `field` at `pos` of `g` and walks its selection in the same group.
    pub(super) fn add_field(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        parent_ty: &Name,
        field: &Field,
        provided: Option<&SelectionSet>,
    ) -> Result<(), PlanError> {
        let mut shell = Field {
            selection: SelectionSet::default(),
            ..field.clone()
        };
        self.walked_field(g, pos, &mut shell, true);
        ensure_field(self.at(g, pos), &shell);
        self.touch(g);
        if field.selection.0.is_empty() {
            // A composite field whose every selection was skipped still needs one.
            if matches!(
                self.schema.types.get(field.ty.inner_named_type()),
                Some(
                    apollo_compiler::schema::ExtendedType::Object(_)
                        | apollo_compiler::schema::ExtendedType::Interface(_)
                        | apollo_compiler::schema::ExtendedType::Union(_)
                )
            ) {
                let mut inner = pos.to_vec();
                inner.push(Step::Field(shell));
                self.add_typename(g, &inner);
            }
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
        // The subgraphs that could resolve this path too (from its nearest entity): only union
        // or interface members every one of them knows are safe to ask for.
        let parent_candidates = self
            .candidates
            .last()
            .cloned()
            .unwrap_or_else(|| vec![subgraph]);
        let mut candidates: Vec<SubgraphId> = parent_candidates
            .into_iter()
            .filter(|&s| s == subgraph || self.graph.resolves(s, parent_ty, &field.name))
            .collect();
        if !candidates.contains(&subgraph) {
            candidates.push(subgraph);
        }
        self.extend_with_keyed(&mut candidates, &child_ty);
        self.candidates.push(candidates);
        let walked = self.walk(
            g,
            &inner,
            &child_path,
            &child_ty,
            &field.selection,
            provided,
        );
        self.candidates.pop();
        walked?;
        // Only `__typename`, or nothing this subgraph answers: a composite field still needs a
        // selection in the subgraph's operation.
        if self.at(g, &inner).0.is_empty() {
            self.add_typename(g, &inner);
        }
        Ok(())
    }

    /// An entity can be reached in every subgraph with a resolvable key for it.
    pub(super) fn extend_with_keyed(&self, candidates: &mut Vec<SubgraphId>, ty: &Name) {
        for s in self.graph.type_subgraphs(ty) {
            if !candidates.contains(&s) && self.graph.resolvable_keys(s, ty).next().is_some() {
                candidates.push(s);
            }
        }
    }

    /// The concrete types of `ty` that `subgraph` may return and that every candidate
    /// subgraph of the current path also knows.
    fn safe_types(&self, subgraph: SubgraphId, ty: &Name) -> Vec<Name> {
        let own = self.graph.possible_types_in(subgraph, ty);
        let Some(candidates) = self.candidates.last() else {
            return own.to_vec();
        };
        own.iter()
            .filter(|t| {
                candidates.iter().all(|&c| {
                    c == subgraph
                        || !self.graph.defines(c, ty)
                        || self.graph.is_interface_object(c, ty)
                        || self.graph.possible_types_in(c, ty).contains(t)
                })
            })
            .cloned()
            .collect()
    }

    /// The group a field is entity-fetched in: one per parent, subgraph and path.
    pub(super) fn entity_group(
        &mut self,
        parent: GroupId,
        parent_pos: &[Step],
        subgraph: SubgraphId,
        path: &[PathSegment],
        touched: &BTreeSet<GroupId>,
        rep: &Wanted<'_>,
    ) -> GroupId {
        let context = self.context_at(parent, parent_pos);
        let mut written_when = self.selected_when(parent, parent_pos);
        for condition in rep.walked_under {
            if !written_when.contains(condition) {
                written_when.push(condition.clone());
            }
        }
        written_when.sort();
        let (fields, adding) = (rep.fields, rep.conditions);
        let reusable = (0..self.groups.len()).find(|&id| {
            let group = &self.groups[id];
            group.subgraph == subgraph
                && group.path == path
                && group.parent.as_ref().is_some_and(|(p, _)| *p == parent)
                // It runs whenever these objects need it (an unconditional fetch serves a
                // conditional field as well)...
                && group.context.iter().all(|c| context.contains(c))
                // ...the fetches its representation fields come from, old and new, run
                // whenever it sends anything (else that representation, shared by all its
                // fields, would lack them when their conditions are false)...
                && {
                    let sent_when = self.sent_when(id, adding);
                    let holds = |conditions: &[Condition]| {
                        conditions.iter().all(|c| sent_when.contains(c))
                    };
                    touched.iter().chain(&group.deps).all(|&t| holds(&self.groups[t].context))
                    // ...and so do the selections of the objects its representation fields
                    // were written under, with those this field would write (else the
                    // objects an unconditional selection brings would be sent without them)...
                    && holds(&group.rep_when)
                    && (holds(&written_when) || self.covered(id, rep))
                }
                // ...its requirements must not come from fetches that wait for this group...
                && !touched.iter().any(|&t| t == id || self.depends_on(t, id))
                // ...and one representation cannot carry a field with two argument sets.
                && !group.reps.iter().any(|(_, _, existing)| conflicts(existing, fields))
        });
        if let Some(existing) = reusable {
            if !self.covered(existing, rep) {
                let rep_when = &mut self.groups[existing].rep_when;
                for condition in written_when {
                    if !rep_when.contains(&condition) {
                        rep_when.push(condition);
                    }
                }
                rep_when.sort();
            }
            return existing;
        }
        let g = self.new_group(subgraph, Some((parent, parent_pos.to_vec())), path.to_vec());
        self.groups[g].deps.insert(parent);
        self.groups[g].rep_when = written_when;
        g
    }

    /// Whether group `id`'s representation already holds what `rep` wants.
    fn covered(&self, id: GroupId, rep: &Wanted<'_>) -> bool {
        self.groups[id]
            .reps
            .iter()
            .any(|(typename, matches, existing)| {
                typename == rep.typename
                    && matches.contains(rep.concrete)
                    && covers(existing, rep.fields)
            })
    }

    /// The conditions under which group `id` sends anything once a field selected under
    /// `adding` joins it: its own, and those every field at its root shares (a fetch whose
    /// fields the variables all exclude is not sent).
    fn sent_when(&self, id: GroupId, adding: &[Condition]) -> Vec<Condition> {
        let group = &self.groups[id];
        let mut common = adding.to_vec();
        if let Some(shared) = selection::shared_conditions(&group.selection) {
            common.retain(|c| shared.contains(c));
        }
        let mut out = group.context.clone();
        out.extend(common.into_iter().filter(|c| !group.context.contains(c)));
        out
    }

    /// The conditions of a field joining group `g` that hold whenever `g` is sent: the
    /// fetches a field's representation fields come from may wait for those only, for the
    /// representation is shared with the group's other fields.
    /// Those already served (a walk this one is part of) count too.
    pub(super) fn kept_while_sent(&self, g: GroupId, conditions: &[Condition]) -> Vec<Condition> {
        let sent_when = self.sent_when(g, conditions);
        let mut kept: Vec<Condition> = Vec::new();
        for c in self.serving.iter().chain(conditions) {
            if sent_when.contains(c) && !kept.contains(c) {
                kept.push(c.clone());
            }
        }
        kept
    }

    /// `field` is resolved at the root of entity group `g` but needs other fields of the same
    /// object: fetch them in the group's parent first.
    pub(super) fn require_at_root(
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
        self.walked_under.push(None);
        let walked = self.walk(parent, &parent_pos, &path, ty, requires, None);
        self.walked_under.pop();
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
    pub(super) fn depends_on(&self, a: GroupId, b: GroupId) -> bool {
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

    pub(super) fn add_rep(
        &mut self,
        g: GroupId,
        typename: &Name,
        concrete: &Name,
        fields: SelectionSet,
    ) {
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

/// The representation a field's entity fetch needs: its `__typename`, the concrete type it
/// stands for, its fields, and the conditions the field is selected under.
pub(super) struct Wanted<'a> {
    pub typename: &'a Name,
    pub concrete: &'a Name,
    pub fields: &'a SelectionSet,
    pub conditions: &'a [Condition],
    /// The conditions of the fields the key and requirement walks wrote for it.
    pub walked_under: &'a [Condition],
}

pub(super) use selection::flatten_fields;
use selection::*;
