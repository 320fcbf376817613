//! Entity jumps: making a key (and requirements) available on an object, then fetching
//! fields from the subgraph the key leads to.

use std::collections::BTreeSet;

use apollo_compiler::Name;

use super::super::PlanError;
use super::super::graph::{Key, SubgraphId};
use super::super::operation::{Condition, Field, Selection, SelectionSet};
use super::super::plan::PathSegment;
use super::selection::*;
use super::{Builder, GroupId, Step, Wanted};

impl Builder<'_> {
    /// Resolves `field` of the object at `pos` in another subgraph (or the same one again, for
    /// fields with requirements), through an entity key; when no one subgraph answers all of
    /// its selection, one jump per part if `split`, else an error (for a field this subgraph
    /// resolves itself, keeping what it can answer and fetching only the rest elsewhere beats
    /// sending every part of the field away).
    pub(super) fn jump_with(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        field: &Field,
        split: bool,
    ) -> Result<(), PlanError> {
        let from = self.groups[g].subgraph;
        // Of equally cheap targets, the one that is cheapest counting the jumps the plan
        // already makes as made (fetches to one subgraph from one level go as one request).
        // Only a tie-break: a jump the plan makes elsewhere is not always one it can share.
        let mut best: Option<(u32, Option<u32>, SubgraphId, Name, Key)> = None;
        for (target, rep_ty) in self.jump_targets(ty, field) {
            let mut visiting = self.jumping.clone();
            let Some((cost, key)) = self.priced_apart(|| {
                self.jump_cost(from, ty, target, &rep_ty, Some(field), &mut visiting, 0)
            }) else {
                continue;
            };
            let in_plan = |b: &Self, target: SubgraphId, rep_ty: &Name| {
                let mut visiting = b.jumping.clone();
                b.priced_in_plan(g, || {
                    b.jump_cost(from, ty, target, rep_ty, Some(field), &mut visiting, 0)
                })
                .map_or(u32::MAX, |(c, _)| c)
            };
            let mut shared = None;
            let better = match &mut best {
                None => true,
                Some((c, _, _, _, _)) if cost != *c => cost < *c,
                // With no jump made yet (or no budget left for more searching), the first.
                Some(_) if self.made.is_empty() || self.budget.spent() => false,
                Some((_, chosen_shared, chosen, chosen_rep, _)) => {
                    let (chosen, chosen_rep) = (*chosen, chosen_rep.clone());
                    let theirs =
                        *chosen_shared.get_or_insert_with(|| in_plan(self, chosen, &chosen_rep));
                    let mine = in_plan(self, target, &rep_ty);
                    shared = Some(mine);
                    mine < theirs
                }
            };
            if better {
                best = Some((cost, shared, target, rep_ty, key));
            }
        }
        let Some((_, _, target, rep_ty, key)) = best else {
            // No one subgraph answers all of the field's selection: one jump per part.
            let child = field.ty.inner_named_type().clone();
            let parts = flatten_fields(self.graph, &child, &field.selection);
            if split && parts.len() > 1 {
                for sub in parts {
                    let part = Field {
                        selection: SelectionSet(vec![Selection::Field(sub.clone())]),
                        ..field.clone()
                    };
                    self.jump_with(g, pos, path, ty, &part, true)?;
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
            Some(field),
        )?;
        // A fetch that runs under fewer conditions than the objects' selection (one an
        // unconditional selection of the same objects made) gets the field with the rest of
        // them: the subgraph is not asked for what the variables exclude.
        let mut field = field.clone();
        self.keep_conditions(g, pos, next, &mut field);
        let field = &self.with_context(next, &rep_ty, &field)?;
        let entity_pos = vec![Step::Fragment(rep_ty.clone())];
        let provides = self
            .graph
            .field_in(target, &rep_ty, &field.name)
            .and_then(|f| f.provides.clone());
        let mut candidates = vec![target];
        self.extend_with_keyed(&mut candidates, &rep_ty);
        self.candidates.push(candidates);
        let added = self.add_field(next, &entity_pos, path, &rep_ty, field, provides.as_ref());
        self.candidates.pop();
        added
    }

    /// Makes the key (and requirements) available on the object at `pos` of `g`, and returns
    /// the entity group in `target` that receives it.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn enter(
        &mut self,
        g: GroupId,
        pos: &[Step],
        path: &[PathSegment],
        ty: &Name,
        target: SubgraphId,
        rep_ty: &Name,
        key: &Key,
        requires: Option<&SelectionSet>,
        field: Option<&Field>,
    ) -> Result<GroupId, PlanError> {
        self.jumping
            .push((rep_ty.clone(), target, field.map(|f| f.name.clone())));
        self.touched.push(BTreeSet::new());
        self.walked_under.push(Some(Vec::new()));
        // What the key and requirement walks fetch serves only this field.
        let conditions = field.map(|f| f.conditions.clone()).unwrap_or_default();
        let walked = self.serving(&conditions, |b| {
            b.add_typename(g, pos);
            b.walk(g, pos, path, ty, &key.fields, None)?;
            if let Some(requires) = requires {
                b.walk(g, pos, path, ty, requires, None)?;
            }
            Ok(())
        });
        let touched = self.touched.pop().unwrap_or_default();
        let walked_under = self.walked_under.pop().flatten().unwrap_or_default();
        self.jumping.pop();
        walked?;
        let mut fields = key.fields.clone();
        if let Some(requires) = requires {
            merge_into(&mut fields, requires);
        }
        let wanted = Wanted {
            typename: rep_ty,
            concrete: ty,
            fields: &fields,
            conditions: &conditions,
            walked_under: &walked_under,
        };
        let next = self.entity_group(g, pos, target, path, &touched, &wanted);
        let jump = (self.groups[g].subgraph, ty.clone(), target, rep_ty.clone());
        let root = self.root_of(g);
        if !self.made.iter().any(|(r, j)| *r == root && *j == jump) {
            self.made.push((root, jump));
        }
        self.add_rep(next, rep_ty, ty, fields);
        self.groups[next]
            .deps
            .extend(touched.into_iter().filter(|&t| t != next));
        Ok(next)
    }

    /// Sends the selections an interface object cannot answer (concrete-type fragments,
    /// `__typename`) to a subgraph that has the real interface.
    pub(super) fn jump_to_interface_owner(
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
            if let Some((cost, key)) = self.priced_apart(|| {
                self.jump_cost(from, interface, target, interface, None, &mut visiting, 0)
            }) && best.as_ref().is_none_or(|(c, ..)| cost < *c)
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
        // When every field sent there shares some conditions, so does the fetch: the
        // variables that exclude them all leave it out.
        let shared = shared_conditions(&selection).unwrap_or_default();
        let next = self.serving(&shared, |b| {
            b.enter(g, pos, path, interface, target, interface, &key, None, None)
        })?;
        let mut selection = selection;
        for_each_field(&mut selection, &mut |field| {
            self.keep_conditions(g, pos, next, field)
        });
        let entity_pos = vec![Step::Fragment(interface.clone())];
        let mut candidates = vec![target];
        self.extend_with_keyed(&mut candidates, interface);
        self.candidates.push(candidates);
        let walked = self.walk(next, &entity_pos, path, interface, &selection, None);
        self.candidates.pop();
        walked
    }

    /// A client field fetched in `next`, a fetch that may run under fewer conditions than its
    /// objects' selection at `pos` of `g` (one an unconditional selection of the same objects
    /// made), keeps those conditions: the subgraph is not asked for what the variables exclude.
    /// A field walked for an entity jump's key or requirement keeps them too: it serves only
    /// the field being walked for, whose fetch waits for them. One walked for a requirement at
    /// a fetch's root or a context value does not (see `walked_under`).
    fn keep_conditions(&self, g: GroupId, pos: &[Step], next: GroupId, field: &mut Field) {
        if matches!(self.walked_under.last(), Some(None)) {
            return;
        }
        let missing: Vec<Condition> = self
            .context_at(g, pos)
            .into_iter()
            .filter(|c| !self.groups[next].context.contains(c) && !field.conditions.contains(c))
            .collect();
        if !missing.is_empty() {
            field.conditions.extend(missing);
            field.conditions.sort_unstable();
        }
    }
}

/// Calls `f` on every field at the top level of `selection`, fragments looked through.
fn for_each_field(selection: &mut SelectionSet, f: &mut impl FnMut(&mut Field)) {
    for item in &mut selection.0 {
        match item {
            Selection::Field(field) => f(field),
            Selection::Fragment(fragment) => for_each_field(&mut fragment.selection, f),
        }
    }
}
