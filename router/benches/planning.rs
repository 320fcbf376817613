//! Uncached planning time against operation size: normalizing and planning an operation that
//! selects every field to a depth, on
//!
//! - `ours`: the platform's supergraph (`schema/supergraph.graphql`);
//! - `audit/<suite>`: the largest supergraphs of the federation audit, when its cases are at
//!   `$AUDIT_DIR/cases` (default `~/.cache/tessera/fed-audit/cases`, written by
//!   `scripts/audit --cases`);
//! - `shareable7`: a generated supergraph of 7 subgraphs where every type is an entity with a
//!   key and every field is `@shareable` in all of them.
//!
//! Run with `cargo bench -p tessera-router --bench planning`. Each case prints, once, its
//! operation's size and the plan's fetch count.

use std::path::PathBuf;

use apollo_compiler::ExecutableDocument;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::planner::{self, Graph, operation};
use tessera_router::supergraph::Supergraph;

struct Case {
    name: String,
    supergraph: Supergraph,
    graph: Graph,
}

impl Case {
    fn new(name: &str, sdl: &str) -> Option<Self> {
        let supergraph = Supergraph::parse(sdl).ok()?;
        let graph = Graph::new(&supergraph).ok()?;
        Some(Self {
            name: name.to_owned(),
            supergraph,
            graph,
        })
    }

    /// The operation selecting every field to `depth`, parsed and validated.
    fn operation(&self, depth: usize) -> Option<ExecutableDocument> {
        let query = format!(
            "query {}",
            planner::everything(&self.supergraph.api, "Query", depth)
        );
        ExecutableDocument::parse_and_validate(&self.supergraph.api, &query, "op.graphql")
            .ok()
            .map(|valid| valid.into_inner())
    }

    /// The plan, and the planning steps it took.
    fn plan(&self, document: &ExecutableDocument) -> (planner::QueryPlan, u64) {
        let op = document.operations.get(None).expect("one operation");
        let normalized = operation::normalize(&self.supergraph.schema, document, op);
        let budget = planner::Budget::unlimited();
        let plan = planner::plan_within(&self.graph, &self.supergraph.schema, &normalized, &budget)
            .expect("plans");
        (plan, budget.used())
    }
}

/// 7 subgraphs sharing every type (each an entity keyed by `id`) and every field.
fn shareable7() -> String {
    const TYPES: usize = 6;
    let mut types = String::new();
    for i in 0..TYPES {
        types.push_str(&format!(
            "type T{i} @key(fields: \"id\") @shareable {{ id: ID! name: String value: Int \
             next: T{n} other: T{o} list: [T{l}] }}\n",
            n = (i + 1) % TYPES,
            o = (i + 2) % TYPES,
            l = (i + 3) % TYPES,
        ));
    }
    let subgraphs: Vec<SubgraphSdl> = (0..7)
        .map(|s| SubgraphSdl {
            name: format!("s{s}"),
            url: format!("http://127.0.0.1:1/s{s}"),
            sdl: format!(
                "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", \
                 import: [\"@key\", \"@shareable\"])\n\
                 type Query {{ root: T0 @shareable }}\n{types}"
            ),
        })
        .collect();
    compose(&subgraphs).expect("the generated subgraphs compose")
}

fn audit_cases() -> Vec<(String, String)> {
    let dir = std::env::var_os("AUDIT_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/tessera/fed-audit"))
        })
        .map(|d| d.join("cases"));
    let Some(Ok(entries)) = dir.map(std::fs::read_dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let sdl = std::fs::read_to_string(e.path().join("supergraph.graphql")).ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), sdl))
        })
        .collect();
    found.sort_by_key(|(_, sdl)| std::cmp::Reverse(sdl.len()));
    found.truncate(3);
    found
}

fn bench(c: &mut Criterion) {
    let ours = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/supergraph.graphql"
    ))
    .expect("the checked-in supergraph");
    let mut cases: Vec<(Case, Vec<usize>)> = Vec::new();
    cases.push((Case::new("ours", &ours).expect("loads"), vec![2, 3, 4]));
    for (suite, sdl) in audit_cases() {
        if let Some(case) = Case::new(&format!("audit/{suite}"), &sdl) {
            cases.push((case, vec![2, 3, 4]));
        }
    }
    cases.push((
        Case::new("shareable7", &shareable7()).expect("loads"),
        vec![3, 4, 5],
    ));
    let mut group = c.benchmark_group("planning");
    for (case, depths) in &cases {
        for &depth in depths {
            let Some(document) = case.operation(depth) else {
                continue;
            };
            let (plan, steps) = case.plan(&document);
            let text = plan.to_string();
            eprintln!(
                "{}/{depth}: {} fields selected, {} fetches in the plan, {steps} planning steps",
                case.name,
                document
                    .operations
                    .get(None)
                    .map_or(0, |op| count_fields(&op.selection_set)),
                text.matches("Fetch(service:").count()
            );
            group.bench_with_input(BenchmarkId::new(&case.name, depth), &document, |b, d| {
                b.iter(|| case.plan(d))
            });
        }
    }
    group.finish();
}

fn count_fields(set: &apollo_compiler::executable::SelectionSet) -> usize {
    use apollo_compiler::executable::Selection;
    set.selections
        .iter()
        .map(|s| match s {
            Selection::Field(f) => 1 + count_fields(&f.selection_set),
            Selection::InlineFragment(i) => count_fields(&i.selection_set),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
