//! Ordering fetch groups into the plan tree: each fetch waits for the fetches it depends on,
//! and, as far as a tree of sequences and parallels can say it, for nothing else.
//!
//! The groups form a DAG (a group depends on the group producing its objects and on those
//! producing its requirements). The tree is built by splitting that DAG, recursively, into
//! its independent parts (run in parallel) and, within one connected part, its roots followed
//! by the rest (run in sequence). A forest (every fetch needing only its parent, the usual
//! case) is scheduled exactly: a fetch starts as soon as its parent's answer is merged, not
//! when the slowest fetch of the level above ends. Where one part has several roots (a fetch
//! needing two others), everything after them waits for all of them: the tree cannot say
//! more, and the wait is only for fetches of the same connected part.
//!
//! Entity fetches to the same subgraph at the same depth stay together in one parallel, even
//! from otherwise independent parts of the plan, so that the executor sends them as one
//! request (ADR 0024): the same operation reached along several paths with its
//! representations de-duplicated, other operations as calls of their own. Those parts then
//! wait for each other at that depth, as a plan in layers would; the number of subgraph
//! requests is what the step costs the subgraphs.

use std::collections::BTreeSet;

use super::build::{Group, GroupId};
use super::plan::PlanNode;

/// A set of fetch nodes that run as one step: one request, or a few sent together.
pub(super) struct Unit {
    pub nodes: Vec<PlanNode>,
    groups: Vec<GroupId>,
}

/// Builds the tree for the groups in `members`; `node` makes the plan node of a group, `None`
/// for a group with nothing to fetch (its dependants then wait for what it waited for).
pub(super) fn schedule(
    groups: &[Group],
    members: &BTreeSet<GroupId>,
    mut node: impl FnMut(&Group) -> Option<PlanNode>,
) -> Option<PlanNode> {
    let level = levels(groups, members);
    let mut units: Vec<Unit> = Vec::new();
    let mut unit_of: Vec<Option<usize>> = vec![None; groups.len()];
    for &id in members {
        let Some(fetch) = node(&groups[id]) else {
            continue;
        };
        let same = units.iter().position(|unit| {
            level[unit.groups[0]] == level[id] && same_subgraph(&unit.nodes[0], &fetch)
        });
        let u = match same {
            Some(u) => u,
            None => {
                units.push(Unit {
                    nodes: Vec::new(),
                    groups: Vec::new(),
                });
                units.len() - 1
            }
        };
        units[u].nodes.push(fetch);
        units[u].groups.push(id);
        unit_of[id] = Some(u);
    }
    let mut deps: Vec<BTreeSet<usize>> = units
        .iter()
        .enumerate()
        .map(|(u, unit)| {
            let mut out = BTreeSet::new();
            for &g in &unit.groups {
                unit_deps(groups, members, &unit_of, g, &mut out, &mut BTreeSet::new());
            }
            out.remove(&u);
            out
        })
        .collect();
    // A fetch writing a field on the way to another fetch's objects (one field split across
    // two subgraphs, each answering a part of a list) goes first, as it did in layers: its
    // answer merges into the lists the deeper fetch reads and merges by position.
    for (u, unit) in units.iter().enumerate() {
        for (v, other) in units.iter().enumerate() {
            if u != v
                && level[other.groups[0]] < level[unit.groups[0]]
                && unit.groups.iter().any(|&g| {
                    other.groups.iter().any(|&o| {
                        let (inner, outer) = (&groups[g].path, &groups[o].path);
                        outer.len() < inner.len() && inner.starts_with(outer)
                    })
                })
            {
                deps[u].insert(v);
            }
        }
    }
    let all: Vec<usize> = (0..units.len()).collect();
    tree(&units, &deps, &all)
}

/// Whether two fetch nodes are entity fetches (under `Flatten`) to the same subgraph: at one
/// depth they are one step, which the executor sends as one request (ADR 0024).
fn same_subgraph(a: &PlanNode, b: &PlanNode) -> bool {
    let (PlanNode::Flatten { node: a, .. }, PlanNode::Flatten { node: b, .. }) = (a, b) else {
        return false;
    };
    match (a.as_ref(), b.as_ref()) {
        (PlanNode::Fetch(a), PlanNode::Fetch(b)) => a.subgraph == b.subgraph,
        _ => false,
    }
}

/// Each group's depth: one more than the deepest group it depends on. Groups of one depth
/// never depend on each other, so same-depth units cannot wait for each other in a cycle.
fn levels(groups: &[Group], members: &BTreeSet<GroupId>) -> Vec<usize> {
    let mut level = vec![0usize; groups.len()];
    // Groups are created after their parents, but requirements can add later dependencies, so
    // relax until stable (bounded by the number of groups).
    for _ in 0..=groups.len() {
        let mut changed = false;
        for &id in members {
            for &dep in &groups[id].deps {
                if members.contains(&dep) && level[id] <= level[dep] {
                    level[id] = level[dep] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    level
}

/// The units group `g` waits for, looking through groups that fetch nothing.
fn unit_deps(
    groups: &[Group],
    members: &BTreeSet<GroupId>,
    unit_of: &[Option<usize>],
    g: GroupId,
    out: &mut BTreeSet<usize>,
    seen: &mut BTreeSet<GroupId>,
) {
    for &dep in &groups[g].deps {
        if !members.contains(&dep) || !seen.insert(dep) {
            continue;
        }
        match unit_of[dep] {
            Some(u) => {
                out.insert(u);
            }
            None => unit_deps(groups, members, unit_of, dep, out, seen),
        }
    }
}

/// The tree for the units in `set` (sorted), all of whose dependencies outside `set` have run.
fn tree(units: &[Unit], deps: &[BTreeSet<usize>], set: &[usize]) -> Option<PlanNode> {
    if set.is_empty() {
        return None;
    }
    let parts = components(deps, set);
    if parts.len() > 1 {
        let nodes = parts
            .iter()
            .filter_map(|part| tree(units, deps, part))
            .collect();
        return Some(parallel(nodes));
    }
    let inside = |u: usize| set.binary_search(&u).is_ok();
    let (roots, rest): (Vec<usize>, Vec<usize>) = set
        .iter()
        .partition(|&&u| !deps[u].iter().any(|&d| inside(d)));
    if roots.is_empty() {
        // A cycle; the groups are built acyclic, so this is a guard, not a case.
        let nodes = set.iter().flat_map(|&u| units[u].nodes.clone()).collect();
        return Some(parallel(nodes));
    }
    let first = parallel(roots.iter().flat_map(|&u| units[u].nodes.clone()).collect());
    match tree(units, deps, &rest) {
        None => Some(first),
        Some(next) => Some(sequence(vec![first, next])),
    }
}

/// The connected parts of `set` (dependencies read as undirected edges), each sorted, in the
/// order of their first unit.
fn components(deps: &[BTreeSet<usize>], set: &[usize]) -> Vec<Vec<usize>> {
    let index = |u: usize| set.binary_search(&u).ok();
    let mut parent: Vec<usize> = (0..set.len()).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, &u) in set.iter().enumerate() {
        for &d in &deps[u] {
            if let Some(j) = index(d) {
                let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                if a != b {
                    parent[a.max(b)] = a.min(b);
                }
            }
        }
    }
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut part_of: Vec<Option<usize>> = vec![None; set.len()];
    for (i, &u) in set.iter().enumerate() {
        let root = find(&mut parent, i);
        match part_of[root] {
            Some(p) => parts[p].push(u),
            None => {
                part_of[root] = Some(parts.len());
                parts.push(vec![u]);
            }
        }
    }
    parts
}

fn parallel(nodes: Vec<PlanNode>) -> PlanNode {
    flattened(nodes, false)
}

fn sequence(nodes: Vec<PlanNode>) -> PlanNode {
    flattened(nodes, true)
}

/// A `Sequence` (or `Parallel`) of `nodes`, with the nodes of the same kind among them
/// spliced in, or the one node alone.
fn flattened(nodes: Vec<PlanNode>, in_sequence: bool) -> PlanNode {
    let mut flat = Vec::with_capacity(nodes.len());
    for node in nodes {
        match node {
            PlanNode::Sequence { nodes } if in_sequence => flat.extend(nodes),
            PlanNode::Parallel { nodes } if !in_sequence => flat.extend(nodes),
            other => flat.push(other),
        }
    }
    match (flat.len(), in_sequence) {
        (1, _) => flat.pop().expect("one node"),
        (_, true) => PlanNode::Sequence { nodes: flat },
        (_, false) => PlanNode::Parallel { nodes: flat },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use apollo_compiler::Name;
    use apollo_compiler::ast::OperationType;

    use super::super::operation::SelectionSet;
    use super::super::plan::{FetchNode, PathSegment, QueryPlan};
    use super::*;

    /// A group named `name` (its subgraph operation) on `subgraph`, waiting for `deps`; the
    /// first group of a test is the root fetch.
    fn group(subgraph: usize, deps: &[GroupId]) -> Group {
        Group {
            subgraph,
            parent: deps.first().map(|&d| (d, Vec::new())),
            path: vec![PathSegment::Key(Name::new_unchecked("x"))],
            selection: SelectionSet::default(),
            reps: Vec::new(),
            deps: deps.iter().copied().collect(),
            context: Vec::new(),
            rep_when: Vec::new(),
            contexts: Vec::new(),
        }
    }

    fn plan(groups: &[Group], operations: &[&str]) -> String {
        let members: BTreeSet<GroupId> = (0..groups.len()).collect();
        let mut n = 0;
        let root = schedule(groups, &members, |group| {
            let operation = operations[n].to_owned();
            n += 1;
            let fetch = PlanNode::Fetch(FetchNode {
                subgraph: group.subgraph,
                service_name: format!("s{}", group.subgraph),
                kind: OperationType::Query,
                variable_usages: Vec::new(),
                operation,
                renames: false,
                representations_variable: Name::new_unchecked("representations"),
                requires: Vec::new(),
                gate: Vec::new(),
                contexts: Vec::new(),
                operation_name: None,
                definitions: Vec::new(),
                entity_selection: String::new(),
            });
            Some(match group.parent {
                None => fetch,
                Some(_) => PlanNode::Flatten {
                    path: group.path.clone(),
                    node: Box::new(fetch),
                },
            })
        });
        QueryPlan {
            root,
            unresolvable: Vec::new(),
            refused: Vec::new(),
        }
        .to_string()
        .lines()
        .filter(|l| !l.contains("Flatten") && l.trim() != "}")
        .map(|l| l.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
    }

    #[test]
    fn independent_chains_run_side_by_side() {
        let groups = [
            group(0, &[]),
            group(1, &[0]),
            group(2, &[0]),
            group(3, &[1]),
            group(4, &[2]),
        ];
        let text = plan(&groups, &["root", "a", "b", "after a", "after b"]);
        assert_eq!(
            text,
            "QueryPlan {\n  Sequence {\n    Fetch(service: \"s0\") {\n      root\n    Parallel {\n      \
             Sequence {\n          Fetch(service: \"s1\") {\n            a\n          \
             Fetch(service: \"s3\") {\n            after a\n      \
             Sequence {\n          Fetch(service: \"s2\") {\n            b\n          \
             Fetch(service: \"s4\") {\n            after b"
        );
    }

    #[test]
    fn a_fetch_needing_two_others_waits_for_both() {
        let groups = [
            group(0, &[]),
            group(1, &[0]),
            group(2, &[0]),
            group(3, &[1, 2]),
        ];
        let text = plan(&groups, &["root", "a", "b", "after both"]);
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in {text}"));
        assert!(
            at("after both") > at(" a\n") && at("after both") > at(" b\n"),
            "{text}"
        );
        assert!(text.contains("Parallel"), "{text}");
    }

    #[test]
    fn a_fetch_below_a_field_another_fetch_also_writes_waits_for_it() {
        let mut deeper = group(3, &[1]);
        deeper.path = vec![
            PathSegment::Key(Name::new_unchecked("x")),
            PathSegment::List,
            PathSegment::Key(Name::new_unchecked("y")),
        ];
        let groups = [group(0, &[]), group(1, &[0]), group(2, &[0]), deeper];
        let text = plan(&groups, &["root", "a", "b", "below x"]);
        let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} in {text}"));
        assert!(at("below x") > at(" b\n"), "{text}");
    }

    #[test]
    fn the_same_fetch_reached_from_two_parents_stays_one_step() {
        let groups = [
            group(0, &[]),
            group(1, &[0]),
            group(2, &[0]),
            group(3, &[1]),
            group(3, &[2]),
        ];
        let text = plan(&groups, &["root", "a", "b", "same", "same"]);
        // Both `same` fetches sit in one parallel, after both of their parents.
        let parallels: Vec<&str> = text.matches("Parallel").collect();
        assert_eq!(parallels.len(), 2, "{text}");
        let last = text.rfind("Parallel").expect("a parallel");
        assert_eq!(text[last..].matches("same").count(), 2, "{text}");
        assert!(text.find(" b\n").expect("b") < last, "{text}");
    }
}
