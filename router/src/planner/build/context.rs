//! Context arguments (`@context`/`@fromContext`): a field argument whose value is read on the
//! nearest ancestor object that sets the argument's context. The field is fetched as an entity
//! field; the ancestor's fetch selects the value, and the entity fetch passes it as a variable
//! (ADR 0023).

use std::collections::BTreeSet;

use apollo_compiler::ast::Value;
use apollo_compiler::{Name, Node};

use super::super::PlanError;
use super::super::operation::{Field, Fragment, Selection, SelectionSet};
use super::super::plan::{ContextSource, PathSegment};
use super::selection::extend_path;
use super::{Builder, GroupId, Step};

/// One context argument of a field in an entity group: where its value comes from.
#[derive(Debug, Clone)]
pub(crate) struct ContextUse {
    /// The variable the subgraph operation takes the value in.
    pub variable: Name,
    /// The argument's type in the subgraph, as GraphQL text.
    pub ty: String,
    /// The ancestors that may set the context, nearest first (see [`ContextSource`]).
    pub from: Vec<ContextSource>,
}

/// An object level on the way from the operation's root to a position: the group and the
/// position where its selection sits, its response path, and its type.
struct Level {
    group: GroupId,
    pos: Vec<Step>,
    path: Vec<PathSegment>,
    ty: Name,
}

impl Builder<'_> {
    /// `field` (on `ty`, at the root of entity group `g`) with its context arguments added as
    /// variables, the values they take selected on their ancestors first. A field without
    /// context arguments in `g`'s subgraph comes back as it is.
    pub(super) fn with_context(
        &mut self,
        g: GroupId,
        ty: &Name,
        field: &Field,
    ) -> Result<Field, PlanError> {
        let subgraph = self.groups[g].subgraph;
        let Some(arguments) = self
            .graph
            .field_in(subgraph, ty, &field.name)
            .map(|f| f.context.clone())
            .filter(|c| !c.is_empty())
        else {
            return Ok(field.clone());
        };
        let Some((parent, parent_pos)) = self.groups[g].parent.clone() else {
            return Err(PlanError::Unresolvable(format!(
                "{ty}.{}: context arguments at the root",
                field.name
            )));
        };
        // The levels above the field's object (which is the last of these).
        let mut levels = self.levels(parent, &parent_pos);
        levels.pop();
        let mut out = field.clone();
        for argument in arguments {
            let key = (ty.clone(), field.name.clone());
            // The nearest ancestor that may set the context, and above it more while the
            // ones found may be of a type that does not.
            let mut tiers: Vec<(usize, Vec<(Name, SelectionSet)>)> = Vec::new();
            for (i, level) in levels.iter().enumerate().rev() {
                let sources = self
                    .graph
                    .context_sources(subgraph, &level.ty, &key, &argument);
                if sources.is_empty() {
                    continue;
                }
                let concrete = if self.graph.is_abstract(&level.ty) {
                    self.graph.possible_types(&level.ty).len()
                } else {
                    1
                };
                let covered = sources.len() >= concrete;
                tiers.push((i, sources));
                if covered {
                    break;
                }
            }
            if tiers.is_empty() {
                return Err(PlanError::Unresolvable(format!(
                    "{ty}.{}: no object above it sets the context {}",
                    field.name, argument.context
                )));
            }
            let from: Vec<ContextSource> = tiers
                .iter()
                .map(|(i, sources)| ContextSource {
                    up: levels.len() - i,
                    sources: sources.clone(),
                })
                .collect();
            // The same argument read from the same ancestors in this fetch: one variable, so
            // that two selections of the field under one key keep the same arguments.
            if let Some(existing) = self.groups[g]
                .contexts
                .iter()
                .find(|c| c.ty == argument.ty && c.from == from)
            {
                out.arguments.push((
                    argument.name.clone(),
                    Node::new(Value::Variable(existing.variable.clone())),
                ));
                continue;
            }
            self.touched.push(BTreeSet::new());
            self.walked_under.push(None);
            let conditions = self.kept_while_sent(g, &field.conditions);
            let walked = self.serving_only(conditions, |b| {
                for (i, sources) in &tiers {
                    let level = &levels[*i];
                    if sources.len() > 1 || sources[0].0 != level.ty {
                        b.add_typename(level.group, &level.pos);
                    }
                    for (on, selection) in sources {
                        let selection = if *on == level.ty {
                            selection.clone()
                        } else {
                            SelectionSet(vec![Selection::Fragment(Fragment {
                                on: on.clone(),
                                selection: selection.clone(),
                            })])
                        };
                        b.walk(
                            level.group,
                            &level.pos,
                            &level.path,
                            &level.ty,
                            &selection,
                            None,
                        )?;
                    }
                }
                Ok(())
            });
            self.walked_under.pop();
            let touched = self.touched.pop().unwrap_or_default();
            walked?;
            if touched.iter().any(|&t| t == g || self.depends_on(t, g)) {
                return Err(PlanError::Unresolvable(format!(
                    "{ty}.{}: its context {} comes from fetches that wait for it",
                    field.name, argument.context
                )));
            }
            self.groups[g].deps.extend(touched);
            let variable = self.fresh_variable("contextualArgument");
            out.arguments.push((
                argument.name.clone(),
                Node::new(Value::Variable(variable.clone())),
            ));
            self.groups[g].contexts.push(ContextUse {
                variable,
                ty: argument.ty.clone(),
                from,
            });
        }
        Ok(out)
    }

    /// The object levels from the operation's root down to the object at `pos` of `g`.
    fn levels(&self, g: GroupId, pos: &[Step]) -> Vec<Level> {
        let group = &self.groups[g];
        let mut levels = match &group.parent {
            Some((parent, parent_pos)) => self.levels(*parent, parent_pos),
            None => vec![Level {
                group: g,
                pos: Vec::new(),
                path: group.path.clone(),
                ty: self.root_type.clone(),
            }],
        };
        for (i, step) in pos.iter().enumerate() {
            match step {
                Step::Field(field) => {
                    let path = levels
                        .last()
                        .map(|l| extend_path(&l.path, field))
                        .unwrap_or_default();
                    levels.push(Level {
                        group: g,
                        pos: pos[..=i].to_vec(),
                        path,
                        ty: field.ty.inner_named_type().clone(),
                    });
                }
                Step::Fragment(on) => {
                    if let Some(last) = levels.last_mut() {
                        last.group = g;
                        last.pos = pos[..=i].to_vec();
                        last.ty = on.clone();
                    }
                }
            }
        }
        levels
    }

    /// A variable name of the plan's own: `<base>_<n>`, with `base` made longer (`_`) until
    /// no variable of the client's operation starts with `<base>_`, so neither this name nor
    /// the per-call names made from it (`<base>_<n>_<k>`) can be the client's.
    fn fresh_variable(&mut self, base: &str) -> Name {
        let mut base = base.to_owned();
        while self
            .client_variables
            .iter()
            .any(|v| v.as_str().starts_with(&format!("{base}_")))
        {
            base.push('_');
        }
        self.variables_made += 1;
        Name::new(&format!("{base}_{}", self.variables_made)).expect("a GraphQL name")
    }
}
