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
    let (normalized, _) =
        operation::normalize(&supergraph.schema, &document, op, &|_| None).expect("normalizes");
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
    let (normalized, _) =
        operation::normalize(&supergraph.schema, &document, op, &|_| None).expect("normalizes");
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

/// Every field of `ty`, recursively to `depth`, with placeholder arguments; abstract types
/// get a fragment per possible type.
fn everything(api: &apollo_compiler::Schema, ty: &str, depth: usize) -> String {
    use apollo_compiler::schema::ExtendedType;
    if depth == 0 {
        return "{ __typename }".to_owned();
    }
    let fields: Vec<(
        &apollo_compiler::Name,
        &apollo_compiler::schema::FieldDefinition,
    )> = match api.types.get(ty) {
        Some(ExtendedType::Object(o)) => o.fields.iter().map(|(n, f)| (n, &***f)).collect(),
        Some(ExtendedType::Interface(i)) => i.fields.iter().map(|(n, f)| (n, &***f)).collect(),
        Some(ExtendedType::Union(u)) => {
            let parts: Vec<String> = u
                .members
                .iter()
                .map(|m| format!("... on {} {}", m.name, everything(api, &m.name, depth)))
                .collect();
            return format!("{{ __typename {} }}", parts.join(" "));
        }
        _ => return String::new(),
    };
    let mut out = String::from("{ __typename");
    for (name, field) in fields {
        if name.starts_with("__") {
            continue;
        }
        let args: Vec<String> = field
            .arguments
            .iter()
            .filter(|a| a.ty.is_non_null() && a.default_value.is_none())
            .map(|a| format!("{}: {}", a.name, placeholder(api, &a.ty)))
            .collect();
        out.push(' ');
        out.push_str(name);
        if !args.is_empty() {
            out.push_str(&format!("({})", args.join(", ")));
        }
        let inner = field.ty.inner_named_type();
        if matches!(
            api.types.get(inner),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        ) {
            out.push(' ');
            out.push_str(&everything(api, inner, depth - 1));
        }
    }
    out.push_str(" }");
    out
}

fn placeholder(api: &apollo_compiler::Schema, ty: &apollo_compiler::ast::Type) -> String {
    use apollo_compiler::schema::ExtendedType;
    if ty.is_list() {
        return "[]".to_owned();
    }
    match api.types.get(ty.inner_named_type()) {
        Some(ExtendedType::Enum(e)) => e
            .values
            .keys()
            .next()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        Some(ExtendedType::InputObject(input)) => {
            let fields: Vec<String> = input
                .fields
                .iter()
                .filter(|(_, f)| f.ty.is_non_null() && f.default_value.is_none())
                .map(|(n, f)| format!("{n}: {}", placeholder(api, &f.ty)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => match ty.inner_named_type().as_str() {
            "Int" => "1".to_owned(),
            "Float" => "1.5".to_owned(),
            "Boolean" => "true".to_owned(),
            _ => "\"x\"".to_owned(),
        },
    }
}

#[test]
fn plans_every_field_of_the_supergraph_to_depth_four() {
    let supergraph = supergraph();
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    for (kind, root) in [("query", "Query"), ("mutation", "Mutation")] {
        let query = format!("{kind} {}", everything(&supergraph.api, root, 4));
        let document =
            ExecutableDocument::parse_and_validate(&supergraph.api, &query, "all.graphql")
                .unwrap_or_else(|e| panic!("{query}\n{}", e.errors));
        let op = document.operations.get(None).expect("one operation");
        let (normalized, _) =
            operation::normalize(&supergraph.schema, &document, op, &|_| None).expect("normalizes");
        let plan = planner::plan(&graph, &supergraph.schema, &normalized)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert!(plan.root.is_some(), "{kind}: a plan with fetches");
    }
}
