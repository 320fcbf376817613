//! Query plans for the platform's own supergraph, as the planner (a pure function) makes them.

use apollo_compiler::ExecutableDocument;
use tessera_router::planner::{self, Graph, operation};
use tessera_router::supergraph::Supergraph;

fn supergraph() -> Supergraph {
    let sdl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schema/supergraph.graphql"
    ))
    .expect("the checked-in supergraph");
    Supergraph::parse(&sdl).expect("it loads")
}

/// Plans `query` (no variables) and prints the plan.
fn plan(query: &str) -> String {
    let supergraph = supergraph();
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let document = ExecutableDocument::parse_and_validate(&supergraph.api, query, "op.graphql")
        .expect("a valid operation");
    let op = document.operations.get(None).expect("one operation");
    let (normalized, _) = operation::normalize(&document, op, &|_| None).expect("normalizes");
    planner::plan(&graph, &supergraph.schema, &normalized)
        .expect("plans")
        .to_string()
}

#[test]
fn root_fields_of_two_subgraphs_are_fetched_in_parallel() {
    insta::assert_snapshot!(plan("{ me { id displayName } sessions { id lastUsedAt } }"));
}

#[test]
fn an_entity_field_of_another_subgraph_is_one_flattened_fetch() {
    insta::assert_snapshot!(plan(
        "mutation { login(input: {email: \"a@b.c\", password: \"p\"}) { accessToken user { id displayName emailVerified } } }"
    ));
}

#[test]
fn mutations_keep_their_order_across_subgraphs() {
    insta::assert_snapshot!(plan(
        "mutation { updateProfile(input: {displayName: \"A\"}) { id } logoutAll }"
    ));
}

#[test]
fn introspection_and_root_typename_need_no_fetch() {
    assert_eq!(
        plan("{ __typename __schema { queryType { name } } }"),
        "QueryPlan {\n}"
    );
}
