//! Costs: how many entity jumps a selection needs from a subgraph, or whether it is
//! reachable at all. The walk uses them to choose where each field goes.

use apollo_compiler::Name;

use super::super::graph::{Key, SubgraphId};
use super::super::operation::{Field, Selection, SelectionSet};
use super::selection::*;
use super::{Builder, GroupId, Priced, ReachKey};

/// How deeply key and requirement walks may nest inside each other (a key whose fields come
/// from another subgraph through a key of its own...). The operation's own depth does not
/// count: it is finite and bounded by the depth limit.
const MAX_KEY_DEPTH: usize = 32;

impl Builder<'_> {
    /// The cost of resolving `field` (or only entering, without one) of an object of type `ty`
    /// held in `from` by jumping to `target` (as `rep_ty`), with the cheapest key to use.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn jump_cost(
        &self,
        from: SubgraphId,
        ty: &Name,
        target: SubgraphId,
        rep_ty: &Name,
        field: Option<&Field>,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<(u32, Key)> {
        if !self.budget.step() {
            return None;
        }
        // The marker guards the key and requirement walks only: they are what can go round in
        // circles. The field's own selection is a strict part of the operation, so descending
        // into it may come back to the same subgraph, type and field as often as the
        // operation does.
        let marker = (rep_ty.clone(), target, field.map(|f| f.name.clone()));
        if depth > MAX_KEY_DEPTH || visiting.contains(&marker) {
            return None;
        }
        visiting.push(marker);
        let entry = (|| {
            let mut best: Option<(u32, Key, Vec<Priced>)> = None;
            for key in self.graph.resolvable_keys(target, rep_ty) {
                let (cost, priced) = self
                    .alternative(|| self.reach(from, ty, &key.fields, None, visiting, depth + 1));
                if let Some(cost) = cost
                    && best.as_ref().is_none_or(|(c, ..)| cost < *c)
                {
                    best = Some((cost, key.clone(), priced));
                }
            }
            let (key_cost, key, priced) = best?;
            self.adopt(priced);
            // A jump this search has already priced (the same key walk for another field of
            // the same objects, or another object of the type) is one fetch, made once.
            let jump = (from, ty.clone(), target, rep_ty.clone());
            let mut cost = key_cost;
            if !self.priced.borrow().contains(&jump) {
                self.priced.borrow_mut().push(jump);
                cost += 10;
            }
            if let Some(field) = field
                && let Some(requires) = self
                    .graph
                    .field_in(target, rep_ty, &field.name)
                    .and_then(|f| f.requires.as_ref())
            {
                cost += self.reach(from, ty, requires, None, visiting, depth + 1)?;
            }
            Some((cost, key))
        })();
        visiting.pop();
        let (mut cost, key) = entry?;
        if let Some(field) = field
            && !field.selection.0.is_empty()
        {
            let child = self.child_type(target, rep_ty, field);
            let provides = self
                .graph
                .field_in(target, rep_ty, &field.name)
                .and_then(|f| f.provides.as_ref());
            cost += self.reach(target, &child, &field.selection, provides, visiting, depth)?;
        }
        Some((cost, key))
    }

    /// The cost of making `selection` available on an object of type `ty` resolved in `from`
    /// (0 when `from` resolves it all); `None` when it cannot be done.
    pub(super) fn reach(
        &self,
        from: SubgraphId,
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<u32> {
        if !self.budget.step() || depth > MAX_KEY_DEPTH {
            return None;
        }
        // Outside key walks the cost depends on nothing else, so it is worked out once: the
        // same sub-selection is met once per candidate subgraph and per member of every
        // abstract type above it, which without this is exponential in the operation's depth.
        if !visiting.is_empty() || depth > 0 {
            return self.reach_uncached(from, ty, selection, provided, visiting, depth);
        }
        let key = ReachKey {
            from,
            ty: ty.clone(),
            selection: selection.clone(),
            provided: provided.cloned(),
        };
        if let Some(hit) = self.reach_memo.borrow().get(&key) {
            return *hit;
        }
        // What is remembered cannot depend on the jumps priced around it.
        let cost = self
            .priced_apart(|| self.reach_uncached(from, ty, selection, provided, visiting, depth));
        self.reach_memo.borrow_mut().insert(key, cost);
        cost
    }

    fn reach_uncached(
        &self,
        from: SubgraphId,
        ty: &Name,
        selection: &SelectionSet,
        provided: Option<&SelectionSet>,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<u32> {
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
                let provided_field =
                    provided.and_then(|p| provided_field(self.graph, p, concrete, &field.name));
                let declared = self.graph.field_in(from, concrete, &field.name);
                let requires = declared.and_then(|f| f.requires.as_ref());
                let contextual = declared.is_some_and(|f| !f.context.is_empty());
                let local = (provided_field.is_some() && !contextual)
                    || (self.graph.resolves(from, concrete, &field.name)
                        && requires.is_none()
                        && !contextual);
                if local {
                    if !field.selection.0.is_empty() {
                        let child = self.child_type(from, concrete, field);
                        let provides = provided_field.map(|p| &p.selection).or_else(|| {
                            self.graph
                                .field_in(from, concrete, &field.name)
                                .and_then(|f| f.provides.as_ref())
                        });
                        // A search that fails leaves no jump counted as paid for.
                        let (whole, priced) = self.alternative(|| {
                            self.reach(from, &child, &field.selection, provides, visiting, depth)
                        });
                        if let Some(cost) = whole {
                            self.adopt(priced);
                            total += cost;
                            continue;
                        }
                        // Not all of it here: what this subgraph lacks comes through the
                        // parent's key from elsewhere, one sub-field at a time.
                        let mut split = 0;
                        for sub in flatten_fields(self.graph, &child, &field.selection) {
                            let one = SelectionSet(vec![Selection::Field(sub.clone())]);
                            let (here, priced) = self.alternative(|| {
                                self.reach(from, &child, &one, provides, visiting, depth)
                            });
                            let cost = match here {
                                Some(cost) => {
                                    self.adopt(priced);
                                    cost
                                }
                                None => {
                                    let remote = Field {
                                        selection: one,
                                        ..field.clone()
                                    };
                                    let targets = self.jump_targets(concrete, &remote);
                                    self.cheapest(targets.iter().map(|(target, rep_ty)| {
                                        self.alternative(|| {
                                            self.jump_cost(
                                                from,
                                                concrete,
                                                *target,
                                                rep_ty,
                                                Some(&remote),
                                                visiting,
                                                depth,
                                            )
                                            .map(|(c, _)| c)
                                        })
                                    }))?
                                }
                            };
                            split += cost;
                        }
                        total += split;
                    }
                    continue;
                }
                total += self.jump_or_split_cost(from, concrete, field, visiting, depth)?;
            }
        }
        Some(total)
    }

    /// The cheapest jump for `field`, or, when no subgraph answers its whole selection, the
    /// sum of the cheapest jumps for each of its parts.
    pub(super) fn jump_or_split_cost(
        &self,
        from: SubgraphId,
        ty: &Name,
        field: &Field,
        visiting: &mut Vec<(Name, SubgraphId, Option<Name>)>,
        depth: usize,
    ) -> Option<u32> {
        let targets = self.jump_targets(ty, field);
        let whole = self.cheapest(targets.iter().map(|(target, rep_ty)| {
            self.alternative(|| {
                self.jump_cost(from, ty, *target, rep_ty, Some(field), visiting, depth)
                    .map(|(c, _)| c)
            })
        }));
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
            total += self.jump_or_split_cost(from, ty, &part, visiting, depth)?;
        }
        Some(total)
    }

    /// Where `ty.field` can be resolved: subgraphs resolving it on the type itself, then
    /// `@interfaceObject`s of its interfaces (with the interface as the entity type).
    pub(super) fn jump_targets(&self, ty: &Name, field: &Field) -> Vec<(SubgraphId, Name)> {
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

    /// Runs `cost` as one of several alternatives: returns its result and the jumps it priced,
    /// leaving the priced jumps as they were.
    pub(super) fn alternative<T>(&self, cost: impl FnOnce() -> T) -> (T, Vec<Priced>) {
        let before = self.priced.borrow().len();
        let out = cost();
        let priced = self.priced.borrow_mut().split_off(before);
        (out, priced)
    }

    /// Keeps the jumps of the alternative chosen.
    pub(super) fn adopt(&self, priced: Vec<Priced>) {
        self.priced.borrow_mut().extend(priced);
    }

    /// The cheapest of `alternatives` (the first of equal ones), its jumps adopted.
    fn cheapest(
        &self,
        alternatives: impl Iterator<Item = (Option<u32>, Vec<Priced>)>,
    ) -> Option<u32> {
        let mut best: Option<(u32, Vec<Priced>)> = None;
        for (cost, priced) in alternatives {
            if let Some(cost) = cost
                && best.as_ref().is_none_or(|(c, _)| cost < *c)
            {
                best = Some((cost, priced));
            }
        }
        let (cost, priced) = best?;
        self.adopt(priced);
        Some(cost)
    }

    /// A cost search for a jump from group `g`, counting the jumps the plan already makes
    /// as made.
    pub(super) fn priced_in_plan<T>(&self, g: GroupId, cost: impl FnOnce() -> T) -> T {
        let root = self.root_of(g);
        let made: Vec<Priced> = self
            .made
            .iter()
            .filter(|(r, _)| !self.mutation || *r == root)
            .map(|(_, jump)| jump.clone())
            .collect();
        let saved = self.priced.replace(made);
        let out = cost();
        *self.priced.borrow_mut() = saved;
        out
    }

    /// The root fetch group `g` is under.
    pub(super) fn root_of(&self, g: GroupId) -> GroupId {
        let mut at = g;
        while let Some((parent, _)) = &self.groups[at].parent {
            at = *parent;
        }
        at
    }

    /// Runs `cost` as a search of its own: no jump priced around it counts as made.
    pub(super) fn priced_apart<T>(&self, cost: impl FnOnce() -> T) -> T {
        let saved = self.priced.take();
        let out = cost();
        *self.priced.borrow_mut() = saved;
        out
    }

    /// The type `field`'s objects have in `subgraph` (which may be narrower than the
    /// supergraph's).
    pub(super) fn child_type(&self, subgraph: SubgraphId, parent: &Name, field: &Field) -> Name {
        // The field as the parent type declares it: selected through an interface fragment
        // on an object (`... on Book { ... on Similar { similar } }`), it may return a
        // narrower type than the interface's field, and fragments on other types cannot apply.
        self.graph
            .field_type_in(subgraph, parent, &field.name)
            .cloned()
            .or_else(|| {
                self.schema
                    .get_object(parent)
                    .and_then(|object| object.fields.get(&field.name))
                    .map(|declared| declared.ty.inner_named_type().clone())
            })
            .unwrap_or_else(|| field.ty.inner_named_type().clone())
    }
}
