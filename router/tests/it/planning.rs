//! Planning proportionate to the operation: hostile documents are refused before any work
//! grows with their expansion, nested selections on abstract types are planned once, entity
//! chains of any length plan, and the planner stops at its budget with a coded error.

use apollo_compiler::ExecutableDocument;
use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;
use tessera_router::planner::{self, Budget, Graph, PlanError, operation};
use tessera_router::supergraph::Supergraph;

/// An interface with ten implementations, each pointing at another node.
fn nodes_sdl() -> String {
    let mut sdl = String::from(
        "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
         type Query { node: Node }\n\
         interface Node { id: ID! next: Node }\n",
    );
    for i in 0..10 {
        sdl.push_str(&format!(
            "type N{i} implements Node {{ id: ID! next: Node label{i}: String }}\n"
        ));
    }
    sdl
}

fn normalized(supergraph: &Supergraph, query: &str) -> std::sync::Arc<operation::Operation> {
    let document = ExecutableDocument::parse_and_validate(&supergraph.api, query, "op.graphql")
        .unwrap_or_else(|e| panic!("{query}\n{}", e.errors));
    let op = document.operations.get(None).expect("one operation");
    operation::normalize(&supergraph.schema, &document, op)
}

/// A supergraph written by hand as Apollo's composition writes it: the join directives, then
/// `rest` (the graphs enum and the types).
fn hand_composed(rest: &str) -> String {
    format!(
        "schema @link(url: \"https://specs.apollo.dev/link/v1.0\") \
         @link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION) {{ query: Query }}\n{JOIN}{rest}"
    )
}

const JOIN: &str = r#"directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
scalar join__FieldSet
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
"#;

/// A subgraph named `name` with `sdl` under the `link` line, at an address nothing answers.
fn unrouted(link: &str, name: &str, sdl: &str) -> tessera_router::compose::SubgraphSdl {
    tessera_router::compose::SubgraphSdl {
        name: name.into(),
        url: format!("http://127.0.0.1:1/{name}"),
        sdl: format!("{link}\n{sdl}"),
    }
}

fn plan_text(supergraph_sdl: &str, query: &str) -> String {
    let supergraph = Supergraph::parse(supergraph_sdl).expect("loads");
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let op = normalized(&supergraph, query);
    planner::plan(&graph, &supergraph.schema, &op)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .to_string()
}

#[test]
fn nested_interface_selections_one_subgraph_answers_stay_on_the_interface() {
    let supergraph = crate::compose_one("nodes", "http://127.0.0.1:1/graphql", &nodes_sdl());
    let plan = plan_text(
        &supergraph,
        "{ node { next { next { next { next { next { id } } } } } } }",
    );
    insta::assert_snapshot!(plan);
    // A member's own field is still asked for on that member only.
    let plan = plan_text(
        &supergraph,
        "{ node { id next { ... on N3 { label3 } next { id } } } }",
    );
    insta::assert_snapshot!(plan);
}

/// Two subgraphs that each add a field to the other's entity, so a selection alternating
/// between them jumps once per level.
fn ping_pong() -> String {
    tessera_router::compose::compose(&[
        tessera_router::compose::SubgraphSdl {
            name: "a".into(),
            url: "http://127.0.0.1:1/a".into(),
            sdl: "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
                  type Query { t: T }\n\
                  type T @key(fields: \"id\") { id: ID! a: T }"
                .into(),
        },
        tessera_router::compose::SubgraphSdl {
            name: "b".into(),
            url: "http://127.0.0.1:1/b".into(),
            sdl: "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
                  type T @key(fields: \"id\") { id: ID! b: T }"
                .into(),
        },
    ])
    .expect("composes")
}

/// `{ t { b { id a { id b { ... } } } } }`, `levels` fields below `t`.
fn alternating(levels: usize) -> String {
    let mut inner = String::from("id");
    for level in (0..levels).rev() {
        let field = if level % 2 == 0 { "b" } else { "a" };
        inner = format!("{field} {{ id {inner} }}");
    }
    format!("{{ t {{ {inner} }} }}")
}

#[test]
fn an_entity_chain_of_any_length_plans() {
    let supergraph = ping_pong();
    let plan = plan_text(&supergraph, &alternating(24));
    // One fetch per jump: the root fetch and 24 entity fetches, each after the previous one.
    assert_eq!(plan.matches("Fetch(service:").count(), 25, "{plan}");
    assert_eq!(plan.matches("Fetch(service: \"b\")").count(), 12, "{plan}");
}

#[test]
fn planning_stops_at_its_budget() {
    let supergraph = Supergraph::parse(&ping_pong()).expect("loads");
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let op = normalized(&supergraph, &alternating(24));
    let small = Budget::new(50, None);
    let result = planner::plan_within(&graph, &supergraph.schema, &op, &small);
    assert!(
        matches!(result, Err(PlanError::BudgetExceeded)),
        "{result:?}"
    );
    let enough = Budget::new(1_000_000, None);
    planner::plan_within(&graph, &supergraph.schema, &op, &enough).expect("plans");
    assert!(enough.used() > 50, "it needed more than the small budget");
}

use crate::{post_query as post, start_router as router};

/// `fragments` fragments, each spreading the next twice: 2^fragments selections expanded.
fn doubling(fragments: usize) -> String {
    let mut query = String::from("{ node { ...F0 } }\n");
    for i in 0..fragments {
        if i + 1 == fragments {
            query.push_str(&format!("fragment F{i} on Node {{ id }}\n"));
        } else {
            query.push_str(&format!(
                "fragment F{i} on Node {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
    }
    query
}

#[tokio::test]
async fn fragments_spreading_each_other_are_refused_before_they_are_expanded() {
    // The subgraph is never called: a closed port.
    let supergraph = crate::compose_one("nodes", "http://127.0.0.1:1/graphql", &nodes_sdl());
    let router = router(&supergraph, GatewayConfig::default()).await;
    let query = doubling(24);
    assert!(
        query.len() < 2048,
        "a small document: {} bytes",
        query.len()
    );
    let (status, body) = post(&router, &query).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("MAX_SELECTIONS_EXCEEDED"),
        "{body}"
    );
    // `node` and 2^23 `id`s, counted without expanding them.
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("8388609")),
        "{body}"
    );
    // Within the limit, the same shape is fine (and then answered by the subgraph, here a
    // closed port: a located fetch error, not a planning failure).
    let (status, body) = post(&router, &doubling(8)).await;
    // Data beside errors: a partial success.
    assert_eq!(status, 294, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("SUBGRAPH_REQUEST_FAILED"),
        "{body}"
    );
    router.shutdown().await;
}

#[tokio::test]
async fn an_operation_over_the_planning_budget_gets_a_coded_error() {
    let mut config = GatewayConfig::default();
    config.query_plan.max_steps = 50;
    config.limits.max_depth = 64;
    let router = router(&ping_pong(), config).await;
    let (status, body) = post(&router, &alternating(24)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("QUERY_PLANNING_BUDGET_EXCEEDED"),
        "{body}"
    );
    router.shutdown().await;
}

/// Subgraph `a` lists `ts` (answering every request with `response`); `T.extra` lives only in
/// `b`, whose key is not resolvable: nothing can fetch it.
async fn unreachable_extra(response: &'static str) -> String {
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(
            move || async move { ([("content-type", "application/json")], response) },
        ),
    );
    let a_url = crate::serve(app).await;
    tessera_router::compose::compose(&[
        tessera_router::compose::SubgraphSdl {
            name: "a".into(),
            url: a_url,
            sdl: "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
                  type Query { ts: [T!]! }\n\
                  type T @key(fields: \"id\") { id: ID! name: String }"
                .into(),
        },
        tessera_router::compose::SubgraphSdl {
            name: "b".into(),
            url: "http://127.0.0.1:1/b".into(),
            sdl: "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
                  type T @key(fields: \"id\", resolvable: false) { id: ID! extra: String }"
                .into(),
        },
    ])
    .expect("composes")
}

#[tokio::test]
async fn a_field_no_subgraph_can_reach_is_a_located_field_error_and_the_rest_is_answered() {
    let supergraph =
        unreachable_extra(r#"{"data":{"ts":[{"id":"1","name":"one"},{"id":"2","name":"two"}]}}"#)
            .await;
    let plan = plan_text(&supergraph, "{ ts { id name extra } }");
    assert!(
        plan.contains("Unresolvable(path: \"ts.@\", field: \"T.extra\")"),
        "{plan}"
    );
    let router = router(&supergraph, GatewayConfig::default()).await;
    let (status, body) = post(&router, "{ ts { id name other: extra } }").await;
    // Data beside errors: a partial success.
    assert_eq!(status, 294, "{body}");
    assert_eq!(
        body["data"],
        json!({ "ts": [
            { "id": "1", "name": "one", "other": null },
            { "id": "2", "name": "two", "other": null },
        ] }),
        "{body}"
    );
    let errors = body["errors"].as_array().expect("errors");
    let paths: Vec<&Value> = errors.iter().map(|e| &e["path"]).collect();
    assert_eq!(
        paths,
        [&json!(["ts", 0, "other"]), &json!(["ts", 1, "other"])],
        "{body}"
    );
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == json!("UNRESOLVABLE_FIELD")),
        "{body}"
    );
    router.shutdown().await;
}

#[tokio::test]
async fn a_field_no_subgraph_can_reach_under_a_skipped_parent_is_no_error() {
    let supergraph = unreachable_extra(r#"{"data":{"ts":[{"id":"1"}]}}"#).await;
    let router = router(&supergraph, GatewayConfig::default()).await;
    // The objects are in the response through the unconditional selection of `ts`; `extra`
    // is selected only under the skipped one.
    let query = "query($x: Boolean!) { ts { id } ts @include(if: $x) { extra } }";
    let (status, body) = crate::post_request(
        &router,
        &json!({ "query": query, "variables": { "x": false } }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "data": { "ts": [{ "id": "1" }] } }));
    let (_, body) = crate::post_request(
        &router,
        &json!({ "query": query, "variables": { "x": true } }),
    )
    .await;
    assert_eq!(
        body["data"],
        json!({ "ts": [{ "id": "1", "extra": null }] }),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["path"],
        json!(["ts", 0, "extra"]),
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNRESOLVABLE_FIELD",
        "{body}"
    );
    router.shutdown().await;
}

#[test]
fn a_field_no_subgraph_can_reach_on_an_interface_refuses_the_operation() {
    // `Node.field` lives only in `b`'s `@interfaceObject`, whose key is not resolvable, and no
    // object type implements `Node`: as the reference gateways do, the operation is refused
    // rather than answered with an unlocatable field error.
    let sdl = &hand_composed(
        r#"enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:1/a") B @join__graph(name: "b", url: "http://127.0.0.1:1/b") }
interface Node @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", resolvable: false, isInterfaceObject: true) { id: ID! field: String @join__field(graph: B) }
type Query @join__type(graph: A) @join__type(graph: B) { a: Node @join__field(graph: A) b: Node @join__field(graph: B) }
"#,
    );
    let supergraph = Supergraph::parse(sdl).expect("loads");
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let op = normalized(&supergraph, "{ a { field } }");
    let refused = planner::plan(&graph, &supergraph.schema, &op);
    assert!(
        matches!(refused, Err(PlanError::Unresolvable(_))),
        "{refused:?}"
    );
    // Where `b` answers, the same field plans.
    plan_text(sdl, "{ b { id field } }");
}

#[tokio::test]
async fn a_selection_the_supergraph_cannot_answer_refuses_only_the_requests_that_select_it() {
    // As above, `a { field }` cannot be planned; under a condition, the operation plans and a
    // request is refused only when its variables select the field.
    let app = axum::Router::new().route(
        "/graphql",
        axum::routing::post(|| async {
            (
                [("content-type", "application/json")],
                r#"{"data":{"a":null}}"#,
            )
        }),
    );
    let a_url = crate::serve(app).await;
    let sdl = hand_composed(&format!(
        r#"enum join__Graph {{ A @join__graph(name: "a", url: "{a_url}") B @join__graph(name: "b", url: "http://127.0.0.1:1/b") }}
interface Node @join__type(graph: A, key: "id") @join__type(graph: B, key: "id", resolvable: false, isInterfaceObject: true) {{ id: ID! field: String @join__field(graph: B) }}
type Query @join__type(graph: A) @join__type(graph: B) {{ a: Node @join__field(graph: A) b: Node @join__field(graph: B) }}
"#
    ));
    let supergraph = Supergraph::parse(&sdl).expect("loads");
    let graph = Graph::new(&supergraph).expect("the planner reads it");
    let query = "query($x: Boolean!) { a { id ... @include(if: $x) { field } } }";
    let plan =
        planner::plan(&graph, &supergraph.schema, &normalized(&supergraph, query)).expect("plans");
    assert_eq!(plan.refused.len(), 1, "{plan}");
    let router = router(&sdl, GatewayConfig::default()).await;
    let request = |x: bool| json!({ "query": query, "variables": { "x": x } });
    let (status, body) = crate::post_request(&router, &request(false)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({ "data": { "a": null } }));
    let (status, body) = crate::post_request(&router, &request(true)).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "QUERY_PLANNING_FAILED",
        "{body}"
    );
    router.shutdown().await;
}

#[test]
fn an_interface_field_selected_on_an_object_keeps_only_fragments_its_own_type_allows() {
    // Through `... on Similar`, `similar` returns `[Product]`; on `Book` it returns `[Book]`,
    // where a fragment on `Magazine` is invalid in the subgraph's operation.
    let sdl = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])\n\
               type Query { similar: [Product] }\n\
               interface Product { id: ID! }\n\
               interface Similar { similar: [Product] }\n\
               type Book implements Product & Similar @key(fields: \"id\") { id: ID! similar: [Book] title: String }\n\
               type Magazine implements Product & Similar @key(fields: \"id\") { id: ID! similar: [Magazine] title: String }";
    let supergraph = crate::compose_one("products", "http://127.0.0.1:1/graphql", sdl);
    let query = "{ similar { ... on Book { ... on Similar { similar { ... on Magazine { title } ... on Book { id } } } } } }";
    let plan = plan_text(&supergraph, query);
    assert!(!plan.contains("Magazine"), "{plan}");
    assert!(
        plan.contains("similar{id}") || plan.contains("similar{__typename id}"),
        "{plan}"
    );
}

#[test]
fn a_field_provided_on_one_member_is_not_provided_on_another() {
    // `book` provides `name` on `Dog` only; a `Cat`'s name must come from `c`, and `a` cannot
    // give a `Cat`'s key, so the animals come from `c` through the book's key.
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@key\", \"@shareable\", \"@external\", \"@provides\"])";
    let subgraph = |name: &str, sdl: &str| unrouted(link, name, sdl);
    let supergraph = tessera_router::compose::compose(&[
        subgraph(
            "a",
            "type Query { book: Book @provides(fields: \"animals { ... on Dog { name } }\") }\n\
             interface Animal { id: ID! }\n\
             type Book @key(fields: \"id\") { id: ID! animals: [Animal] @shareable }\n\
             type Dog implements Animal @key(fields: \"id\") { id: ID! @external name: String @external }\n\
             type Cat implements Animal @key(fields: \"id\") { id: ID! @external }",
        ),
        subgraph(
            "c",
            "interface Animal { id: ID! name: String }\n\
             type Book @key(fields: \"id\") { id: ID! animals: [Animal] @shareable }\n\
             type Dog implements Animal @key(fields: \"id\") { id: ID! name: String @shareable }\n\
             type Cat implements Animal @key(fields: \"id\") { id: ID! name: String @shareable }",
        ),
    ])
    .expect("composes");
    // As Apollo's composition writes it: `a` declares the cat's key field `@external`.
    let at = supergraph.find("type Cat implements Animal").expect("Cat");
    let id = at + supergraph[at..].find("id: ID!").expect("Cat.id");
    let supergraph = format!(
        "{}id: ID! @join__field(graph: A, external: true) @join__field(graph: C){}",
        &supergraph[..id],
        &supergraph[id + "id: ID!".len()..]
    );
    let plan = plan_text(&supergraph, "{ book { animals { name } } }");
    assert!(plan.contains("Fetch(service: \"c\")"), "{plan}");
}

#[test]
fn a_field_its_subgraph_cannot_complete_keeps_what_that_subgraph_answers() {
    // `a` resolves `Product.category` and `Category.name`; only `c` has `details`, and
    // `Category` has no key there: `name` stays in `a`'s fetch and only `details` goes to
    // `c`, through the product's key, rather than `a` being asked again for the name.
    // As Apollo's composition writes it (ours refuses a type that is an entity in one
    // subgraph and a value type in another).
    let supergraph = &hand_composed(
        r#"enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:1/a") C @join__graph(name: "c", url: "http://127.0.0.1:1/c") }
type Category @join__type(graph: A, key: "id") @join__type(graph: C) { id: ID! @join__field(graph: A) name: String! @join__field(graph: A) details: CategoryDetails @join__field(graph: C) }
type CategoryDetails @join__type(graph: C) { products: Int }
type Product @join__type(graph: A, key: "id") @join__type(graph: A, key: "id pid") @join__type(graph: C, key: "id pid") { id: ID! pid: ID! category: Category }
type Query @join__type(graph: A) @join__type(graph: C) { products: [Product!]! @join__field(graph: A) }
"#,
    );
    let plan = plan_text(
        supergraph,
        "{ products { category { name details { products } } } }",
    );
    assert_eq!(plan.matches("Fetch(service:").count(), 2, "{plan}");
    assert_eq!(plan.matches("Fetch(service: \"a\")").count(), 1, "{plan}");
}

/// A supergraph with context arguments, as Federation 2.8 composes it: `Container` (an
/// interface) sets the context `a__c` that `Item.note(label:)` reads.
fn context_supergraph() -> String {
    r#"schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.5", for: EXECUTION) @link(url: "https://specs.apollo.dev/context/v0.1", for: SECURITY) { query: Query }
directive @context(name: String!) repeatable on INTERFACE | OBJECT | UNION
directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean, overrideLabel: String, contextArguments: [join__ContextArgument!]) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE
directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
input join__ContextArgument { name: String! type: String! context: String! selection: join__FieldValue! }
scalar join__FieldSet
scalar join__FieldValue
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:1/a") }
type Query @join__type(graph: A) { containers: [Container!]! item: Item! }
interface Container @join__type(graph: A) @context(name: "a__c") { label: String! }
type Box implements Container @join__type(graph: A) @join__implements(graph: A, interface: "Container") { label: String! inner: Wrapper! }
type Bag implements Container @join__type(graph: A) @join__implements(graph: A, interface: "Container") { label: String! items: [Item!]! }
type Wrapper @join__type(graph: A) { item: Item! }
type Item @join__type(graph: A, key: "id") { id: ID! note: String! @join__field(graph: A, contextArguments: [{context: "a__c", name: "label", type: "String!", selection: "{ label }"}]) }
"#
    .to_owned()
}

#[test]
fn a_context_argument_is_read_on_the_nearest_ancestor_setting_it_however_far_up() {
    let plan = plan_text(
        &context_supergraph(),
        "{ containers { ... on Box { inner { item { note } } } ... on Bag { items { note } } } }",
    );
    // Two levels up from a box's item, one from a bag's; the interface's implementations both
    // set the context, so the label is read by the container's concrete type.
    assert!(
        plan.contains("$contextualArgument_1 = ../../... on Box {label}"),
        "{plan}"
    );
    assert!(
        plan.contains("$contextualArgument_2 = ../... on Bag {label}"),
        "{plan}"
    );
    assert!(
        plan.contains("note(label:$contextualArgument_1)")
            && plan.contains("$contextualArgument_1:String!"),
        "{plan}"
    );
}

#[test]
fn a_context_argument_on_an_abstract_ancestor_falls_back_to_the_one_above() {
    // A holder is a bag (which sets the context) or a box (which does not): an item in a box
    // reads the label of the shelf above it.
    let supergraph = context_supergraph().replace(
        "type Query @join__type(graph: A) { containers: [Container!]! item: Item! }",
        r#"type Query @join__type(graph: A) { containers: [Container!]! item: Item! shelves: [Shelf!]! }
type Shelf @join__type(graph: A) @context(name: "a__c") { label: String! holders: [Holder!]! }
interface Holder @join__type(graph: A) { items: [Item!]! }
type Sack implements Holder @join__type(graph: A) @join__implements(graph: A, interface: "Holder") @context(name: "a__c") { label: String! items: [Item!]! }
type Crate implements Holder @join__type(graph: A) @join__implements(graph: A, interface: "Holder") { items: [Item!]! }"#,
    );
    let plan = plan_text(&supergraph, "{ shelves { holders { items { note } } } }");
    assert!(
        plan.contains(
            "$contextualArgument_1 = ../... on Sack {label} || ../../... on Shelf {label}"
        ),
        "{plan}"
    );
    // Both labels and the holder's concrete type are fetched.
    assert!(
        plan.contains(
            "query{shelves{holders{__typename items{__typename id} ...on Sack{label}} label}}"
        ),
        "{plan}"
    );
}

#[test]
fn a_context_argument_no_ancestor_sets_is_a_located_field_error() {
    // Nothing above `item` sets the context: the field cannot be resolved there, and only
    // there (the rest of the operation is planned).
    let plan = plan_text(&context_supergraph(), "{ item { id note } }");
    assert!(
        plan.contains("Unresolvable(path: \"item\", field: \"Item.note\")"),
        "{plan}"
    );
    assert!(!plan.contains("_entities"), "{plan}");
}

#[test]
fn a_contextual_field_split_across_subgraphs_asks_the_other_without_its_context() {
    // `Item.detail` reads the container's label in `a`; `b` resolves `detail` too, with no
    // context, and is the only one with `Detail.extra`. The part of `detail` that `b`
    // answers is asked for as the client wrote it, not with `a`'s variable.
    let supergraph = context_supergraph()
        .replace(
            r#"enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:1/a") }"#,
            r#"enum join__Graph { A @join__graph(name: "a", url: "http://127.0.0.1:1/a") B @join__graph(name: "b", url: "http://127.0.0.1:1/b") }"#,
        )
        .replace(
            r#"type Item @join__type(graph: A, key: "id") { id: ID! note"#,
            r#"type Detail @join__type(graph: A) @join__type(graph: B) { text: String @join__field(graph: A) extra: String @join__field(graph: B) }
type Item @join__type(graph: A, key: "id") @join__type(graph: B, key: "id") { id: ID! detail: Detail! @join__field(graph: A, contextArguments: [{context: "a__c", name: "label", type: "String!", selection: "{ label }"}]) @join__field(graph: B) note"#,
        );
    let plan = plan_text(
        &supergraph,
        "{ containers { ... on Bag { items { detail { text extra } } } } }",
    );
    assert!(
        plan.contains("detail(label:$contextualArgument_1){text}"),
        "{plan}"
    );
    assert!(plan.contains("detail{extra}"), "{plan}");
    assert_eq!(plan.matches("label:$").count(), 1, "{plan}");
}

#[test]
fn a_root_field_several_subgraphs_resolve_joins_the_fetch_another_root_field_needs() {
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@shareable\"])";
    let supergraph = tessera_router::compose::compose(&[
        tessera_router::compose::SubgraphSdl {
            name: "a".into(),
            url: "http://127.0.0.1:1/a".into(),
            sdl: format!("{link}\ntype Query {{ feed: [String] @shareable }}"),
        },
        tessera_router::compose::SubgraphSdl {
            name: "b".into(),
            url: "http://127.0.0.1:1/b".into(),
            sdl: format!("{link}\ntype Query {{ feed: [String] @shareable bFeed: [String] }}"),
        },
    ])
    .expect("composes");
    // `feed` comes first and either subgraph has it; only `b` has `bFeed`: one fetch, to `b`.
    let plan = plan_text(&supergraph, "{ feed bFeed }");
    assert_eq!(plan.matches("Fetch(").count(), 1, "{plan}");
    assert!(plan.contains("Fetch(service: \"b\")"), "{plan}");
}

#[test]
fn root_fields_that_more_subgraphs_answer_join_the_fetch_of_those_fewer_answer() {
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@shareable\", \"@key\"])";
    let supergraph = tessera_router::compose::compose(&[
        tessera_router::compose::SubgraphSdl {
            name: "a".into(),
            url: "http://127.0.0.1:1/a".into(),
            sdl: format!(
                "{link}\ntype Query {{ product: Product @shareable }}\n\
                 type Product @key(fields: \"id\") {{ id: ID! }}"
            ),
        },
        tessera_router::compose::SubgraphSdl {
            name: "b".into(),
            url: "http://127.0.0.1:1/b".into(),
            sdl: format!(
                "{link}\ntype Query {{ product: Product @shareable }}\n\
                 type Product @key(fields: \"id\") {{ id: ID! price: Int }}"
            ),
        },
    ])
    .expect("composes");
    // Both answer `product { id }`; only `b` answers the aliased one with its price.
    let plan = plan_text(
        &supergraph,
        "{ product { id } other: product { id price } }",
    );
    assert_eq!(plan.matches("Fetch(").count(), 1, "{plan}");
    assert!(plan.contains("Fetch(service: \"b\")"), "{plan}");
}

#[test]
fn children_of_fields_sharing_a_response_key_are_checked_together() {
    // In subgraph `b`, `User.id` is `ID!` and `Admin.id` is `ID` (the supergraph has `ID` for
    // both): under one response key, in the children of two `similarAccounts` that share
    // theirs, `b` would refuse the operation, so one of them is aliased.
    let sdl = hand_composed(
        r#"enum join__Graph { B @join__graph(name: "b", url: "http://127.0.0.1:1/b") }
type Query @join__type(graph: B) { accounts: [Account] }
interface Account @join__type(graph: B) { id: ID similarAccounts: [Account] }
type User implements Account @join__type(graph: B) @join__implements(graph: B, interface: "Account") { id: ID @join__field(graph: B, type: "ID!") similarAccounts: [Account] }
type Admin implements Account @join__type(graph: B) @join__implements(graph: B, interface: "Account") { id: ID similarAccounts: [Account] }
"#,
    );
    let plan = plan_text(
        &sdl,
        "{ accounts { ... on User { similarAccounts { ... on User { id } } } \
           ... on Admin { similarAccounts { ... on Admin { id } } } } }",
    );
    assert!(plan.contains("id__tessera_alias_"), "{plan}");
}

#[test]
fn entity_fetches_to_one_subgraph_at_one_depth_are_one_step_across_parts_of_the_plan() {
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.5\", import: [\"@key\"])";
    let subgraph = |name: &str, sdl: &str| unrouted(link, name, sdl);
    let supergraph = tessera_router::compose::compose(&[
        subgraph(
            "a",
            "type Query { x: T y: U } type T @key(fields: \"id\") { id: ID! } type U @key(fields: \"id\") { id: ID! }",
        ),
        subgraph(
            "b",
            "type T @key(fields: \"id\") { id: ID! next: V } type U @key(fields: \"id\") { id: ID! other: W } type V @key(fields: \"id\") { id: ID! } type W @key(fields: \"id\") { id: ID! }",
        ),
        subgraph(
            "c",
            "type V @key(fields: \"id\") { id: ID! name: String } type W @key(fields: \"id\") { id: ID! name: String }",
        ),
    ])
    .expect("composes");
    // `x` and `y` are independent parts of the plan, each going to `b` and then to `c`: each
    // depth is one step, whose two fetches to one subgraph go as one request.
    let plan = plan_text(&supergraph, "{ x { next { name } } y { other { name } } }");
    assert_eq!(plan.matches("Sequence {").count(), 1, "{plan}");
    assert_eq!(plan.matches("Parallel {").count(), 2, "{plan}");
    let b = plan.find("Fetch(service: \"b\")").expect("b");
    let c = plan.find("Fetch(service: \"c\")").expect("c");
    assert!(
        plan.rfind("Fetch(service: \"b\")").expect("b") < c,
        "{plan}"
    );
    assert!(b < c, "{plan}");
}

#[test]
fn a_shared_root_field_split_over_subgraphs_asks_no_third_one_for_what_they_share() {
    // `products` and its `id` are in all three; `price` and `name` in one each. The split
    // needs `price` and `name` from theirs, and `id` rides along, whatever the order.
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@shareable\"])";
    let subgraph = |name: &str, own: &str| {
        unrouted(
            link,
            name,
            &format!(
                "type Query {{ products: [Product!]! @shareable }}\n\
                 type Product {{ id: ID! @shareable {own} }}"
            ),
        )
    };
    let supergraph = tessera_router::compose::compose(&[
        subgraph("category", ""),
        subgraph("name", "name: Name! }\ntype Name { brand: String!"),
        subgraph("price", "price: Price! }\ntype Price { amount: Int!"),
    ])
    .expect("composes");
    for query in [
        "{ products { price { amount } name { brand } id } }",
        "{ products { id price { amount } name { brand } } }",
        // The same response key twice: the part every subgraph answers joins a fetch too.
        "{ products { id } products { price { amount } name { brand } } }",
    ] {
        let plan = plan_text(&supergraph, query);
        assert_eq!(plan.matches("Fetch(service").count(), 2, "{query}\n{plan}");
        assert!(!plan.contains("\"category\""), "{query}\n{plan}");
    }
}

#[test]
fn a_jump_counted_once_when_two_keys_need_it() {
    // `first` comes either from `list` (whose `price` then needs `category` from `products`)
    // or, with `price` at hand, from `price`'s list type, whose key needs `selected` from
    // `list`. Both keys need `pid` from `link`: one fetch, so the second way is cheaper.
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.0\", import: [\"@key\", \"@shareable\", \"@external\", \"@extends\"])";
    let subgraph = |name: &str, sdl: &str| unrouted(link, name, sdl);
    let supergraph = tessera_router::compose::compose(&[
        subgraph(
            "link",
            "type Product @key(fields: \"id\") @key(fields: \"id pid\") { id: String! pid: String! }",
        ),
        subgraph(
            "list",
            "type ProductList @key(fields: \"products{id pid}\") { products: [Product!]! first: Product @shareable selected: Product @shareable }\n\
             type Product @key(fields: \"id pid\") { id: String! pid: String }",
        ),
        subgraph(
            "price",
            "type ProductList @key(fields: \"products{id pid category{id tag}} selected{id}\") { products: [Product!]! first: Product @shareable selected: Product @shareable }\n\
             type Product @key(fields: \"id pid category{id tag}\") { id: String! price: Price pid: String category: Category }\n\
             type Category @key(fields: \"id tag\") { id: String! tag: String }\n\
             type Price { price: Float! }",
        ),
        subgraph(
            "products",
            "type Query { topProducts: ProductList! }\n\
             type ProductList @key(fields: \"products{id}\") { products: [Product!]! }\n\
             type Product @extends @key(fields: \"id\") { id: String! @external category: Category @shareable }\n\
             type Category @key(fields: \"id\") { mainProduct: Product! @shareable id: String! tag: String @shareable }",
        ),
    ])
    .expect("composes");
    let plan = plan_text(&supergraph, "{ topProducts { first { price { price } } } }");
    assert_eq!(plan.matches("Fetch(service").count(), 4, "{plan}");
    assert_eq!(
        plan.matches("Fetch(service: \"products\")").count(),
        1,
        "{plan}"
    );
    assert!(
        plan.contains("...on ProductList{first{price{price}}}"),
        "{plan}"
    );
}

#[test]
fn the_concrete_type_of_an_interface_object_is_fetched_under_the_conditions_of_what_needs_it() {
    let link = "extend schema @link(url: \"https://specs.apollo.dev/federation/v2.3\", import: [\"@key\", \"@interfaceObject\"])";
    let subgraph = |name: &str, sdl: &str| unrouted(link, name, sdl);
    let supergraph = tessera_router::compose::compose(&[
        subgraph(
            "a",
            "interface Node @key(fields: \"id\") { id: ID! }\n\
             type User implements Node @key(fields: \"id\") { id: ID! age: Int }",
        ),
        subgraph(
            "b",
            "type Query { nodes: [Node] }\n\
             type Node @key(fields: \"id\") @interfaceObject { id: ID! username: String }",
        ),
    ])
    .expect("composes");
    for query in [
        "query($s: Boolean!) { nodes { username ... on User @skip(if: $s) { age } } }",
        "query($s: Boolean!) { nodes { username __typename @skip(if: $s) } }",
    ] {
        let plan = plan_text(&supergraph, query);
        assert!(
            plan.contains("Fetch(service: \"a\") {\n        when @skip(if:$s)"),
            "{query}\n{plan}"
        );
    }
}
