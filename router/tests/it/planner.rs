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

/// Plans `query` and prints the plan.
fn plan(query: &str) -> String {
    let supergraph = supergraph();
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let document = ExecutableDocument::parse_and_validate(&supergraph.api, query, "op.graphql")
        .expect("a valid operation");
    let op = document.operations.get(None).expect("one operation");
    let normalized = operation::normalize(&supergraph.schema, &document, op);
    planner::plan(&graph, &supergraph.schema, &normalized)
        .expect("plans")
        .to_string()
}

/// Plans `query` against the supergraph composed from `subgraphs` (name and SDL each).
fn plan_composed(subgraphs: &[(&str, &str)], query: &str) -> String {
    let subgraphs: Vec<tessera_router::compose::SubgraphSdl> = subgraphs
        .iter()
        .map(|(name, sdl)| tessera_router::compose::SubgraphSdl {
            name: (*name).to_owned(),
            url: format!("http://{name}.invalid/graphql"),
            sdl: (*sdl).to_owned(),
        })
        .collect();
    let sdl = tessera_router::compose::compose(&subgraphs).expect("composes");
    let supergraph = Supergraph::parse(&sdl).expect("it loads");
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let document = ExecutableDocument::parse_and_validate(&supergraph.api, query, "op.graphql")
        .expect("a valid operation");
    let op = document.operations.get(None).expect("one operation");
    let normalized = operation::normalize(&supergraph.schema, &document, op);
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
fn a_client_alias_named_like_the_key_field_is_selected_under_a_reserved_key() {
    insta::assert_snapshot!(plan("{ me { id: displayName posts { nodes { title } } } }"));
}

#[test]
fn client_aliases_shaped_like_internal_keys_are_selected_under_reserved_keys() {
    insta::assert_snapshot!(plan(
        "{ me { __typename: displayName x__tessera_alias_1: id a__req_1234abcd: email _tessera_id: id } }"
    ));
}

#[test]
fn a_client_alias_on_an_interface_named_like_a_key_of_one_of_its_types_is_reserved() {
    const SHOP: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { items: [Item!]! }
interface Item { name: String! }
type Book implements Item @key(fields: "sku") { sku: ID! name: String! }"#;
    const STOCK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Book @key(fields: "sku") { sku: ID! stock: Int! }"#;
    insta::assert_snapshot!(plan_composed(
        &[("shop", SHOP), ("stock", STOCK)],
        "{ items { sku: name ... on Book { stock } } }"
    ));
}

#[test]
fn aliases_that_name_no_other_field_are_left_as_written() {
    insta::assert_snapshot!(plan(
        "{ viewer: me { name: displayName posts { nodes { heading: title } } } }"
    ));
}

#[test]
fn entity_fetches_take_representations_under_a_name_no_client_variable_has() {
    insta::assert_snapshot!(plan(
        "query($representations: Int, $representations_1: String) { me { posts(first: $representations, after: $representations_1) { nodes { title } } } }"
    ));
}

#[test]
fn introspection_and_root_typename_need_no_fetch() {
    assert_eq!(
        plan("{ __typename __schema { queryType { name } } }"),
        "QueryPlan {\n}"
    );
}

#[test]
fn plans_every_field_of_the_supergraph_to_depth_four() {
    let supergraph = supergraph();
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    for (kind, root) in [("query", "Query"), ("mutation", "Mutation")] {
        let query = format!("{kind} {}", planner::everything(&supergraph.api, root, 4));
        let document =
            ExecutableDocument::parse_and_validate(&supergraph.api, &query, "all.graphql")
                .unwrap_or_else(|e| panic!("{query}\n{}", e.errors));
        let op = document.operations.get(None).expect("one operation");
        let normalized = operation::normalize(&supergraph.schema, &document, op);
        let plan = planner::plan(&graph, &supergraph.schema, &normalized)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(plan.root.is_some(), "{kind}: a plan with fetches");
    }
}

#[test]
fn an_entity_chain_may_return_to_subgraphs_it_has_left() {
    // identity -> blog -> identity -> billing -> identity -> blog
    insta::assert_snapshot!(plan(
        "{ me { posts(first: 1) { nodes { author { invoices(first: 1) { nodes { user { posts(first: 1) { nodes { title } } } } } } } } } }"
    ));
}

#[test]
fn a_field_selecting_only_its_typename_still_has_a_selection_in_the_subgraph_operation() {
    insta::assert_snapshot!(plan("{ me { posts(first: 1) { __typename } } }"));
}

#[test]
fn fields_under_different_conditions_share_one_fetch_and_the_key_under_the_root_field() {
    // The key is written inside `users`, which the identity fetch is sent for anyway: left
    // unconditional, one billing fetch serves both fields, sent when either holds.
    let plan = plan(
        "query($c: Boolean!, $d: Boolean!) { users(first: 1) { edges { node { \
         invoices(first: 1) @include(if: $c) { __typename } \
         subscription @include(if: $d) { __typename } } } } }",
    );
    assert_eq!(
        plan.matches("Fetch(service: \"billing\")").count(),
        1,
        "{plan}"
    );
    assert!(
        plan.contains("when @include(if:$c) or @include(if:$d)"),
        "{plan}"
    );
    let identity = plan
        .lines()
        .skip_while(|line| !line.contains("Fetch(service: \"identity\")"))
        .nth(1)
        .expect("an identity fetch");
    assert!(identity.contains("node{__typename id}"), "{plan}");
}
