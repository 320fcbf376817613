//! Operation limits: each violation gets its own code, and no subgraph is called.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { item: Item items(first: Int): [Item] }
type Item { id: ID name: String children: [Item] }"#;

async fn router(config: GatewayConfig) -> (RouterServer, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let app = Router::new().route(
        "/graphql",
        post(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                (
                    [("content-type", "application/json")],
                    r#"{"data":{"item":{"id":"1"}}}"#,
                )
            }
        }),
    );
    let url = crate::serve(app).await;
    let supergraph = crate::compose_one("items", &url, SDL);
    let router = crate::start_router(&supergraph, config).await;
    (router, count)
}

use crate::post_query;

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn refuses_each_oversized_operation_with_its_own_code_and_calls_no_subgraph() {
    let mut config = GatewayConfig::default();
    config.limits.max_depth = 3;
    config.limits.max_aliases = 2;
    config.limits.max_root_fields = 2;
    config.limits.max_directives = 1;
    config.limits.max_tokens = 60;
    config.limits.max_cost = Some(10);
    let (router, count) = router(config).await;

    let cases = [
        (
            "{ item { children { children { id } } } }",
            "MAX_DEPTH_EXCEEDED",
        ),
        // Fragments are expanded before measuring, so they cannot hide depth.
        (
            "{ item { ...F } } fragment F on Item { children { children { id } } }",
            "MAX_DEPTH_EXCEEDED",
        ),
        ("{ item { a: id b: id c: id } }", "MAX_ALIASES_EXCEEDED"),
        (
            "{ a: item { id } b: item { id } c: item { id } }",
            "MAX_ALIASES_EXCEEDED",
        ),
        (
            "{ item { id } items { id } x: item { name } }",
            "MAX_ROOT_FIELDS_EXCEEDED",
        ),
        (
            "{ item { id @include(if: true) name @skip(if: false) } }",
            "MAX_DIRECTIVES_EXCEEDED",
        ),
        (
            "{ item { id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name id name } }",
            "MAX_TOKENS_EXCEEDED",
        ),
        // 10 items (the assumed list size) × (1 + 10 children × 1) = 110 > 10.
        ("{ items { children { id } } }", "COST_LIMIT_EXCEEDED"),
    ];
    for (query, expected) in cases {
        let (status, body) = post_query(&router, query).await;
        assert_eq!((status, code(&body)), (400, expected), "{query}: {body}");
        assert!(body.get("data").is_none(), "{body}");
    }
    assert_eq!(count.load(Ordering::SeqCst), 0, "no subgraph was called");

    let (status, body) = post_query(&router, "{ item { id } }").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["item"]["id"], json!("1"));
    assert_eq!(count.load(Ordering::SeqCst), 1);
    router.shutdown().await;
}

#[tokio::test]
async fn a_skipped_selection_costs_nothing_and_a_condition_must_be_a_boolean() {
    let mut config = GatewayConfig::default();
    config.limits.max_cost = Some(10);
    let (router, count) = router(config).await;
    let query = "query($deep: Boolean = false) { item { id } items @include(if: $deep) { children { id } } }";
    let ask = |variables: Value| {
        let body = json!({ "query": query, "variables": variables });
        let router = &router;
        async move { crate::post_request(router, &body).await }
    };
    // Skipped (given or by default), the 110 of `items` does not count.
    for variables in [json!({ "deep": false }), json!({})] {
        let (status, body) = ask(variables).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!({ "data": { "item": { "id": "1" } } }));
    }
    // The same operation with it included is over the limit, plan cached or not.
    let (status, body) = ask(json!({ "deep": true })).await;
    assert_eq!(
        (status, code(&body)),
        (400, "COST_LIMIT_EXCEEDED"),
        "{body}"
    );
    // A nullable condition variable sent as null cannot decide anything.
    let (status, body) = ask(json!({ "deep": null })).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "only the admitted requests were sent"
    );
    router.shutdown().await;
}

#[tokio::test]
async fn the_assumed_list_size_multiplies_what_is_below_a_list() {
    let sdl_limit = |max: u64| {
        let mut config = GatewayConfig::default();
        config.limits.max_cost = Some(max);
        config.limits.list_size = 100;
        config
    };
    // Without @listSize the assumed size applies: 100 × (1 + 100 × 1) is over 100.
    let (router, _) = router(sdl_limit(100)).await;
    let (_, body) = post_query(&router, "{ items { children { id } } }").await;
    assert_eq!(code(&body), "COST_LIMIT_EXCEEDED", "{body}");
    let (status, _) = post_query(&router, "{ items { id } }").await;
    assert_eq!(status, 200, "100 items at 1 each fit a limit of 100");
    router.shutdown().await;
}

#[tokio::test]
async fn follows_cost_and_list_size_directives_in_the_supergraph() {
    // A supergraph as Apollo composition writes it for `@cost` and `@listSize` (ours does not
    // carry them yet), with the subgraph at a closed port: a refused operation never fetches.
    let supergraph = crate::compose_one("items", "http://127.0.0.1:1/graphql", SDL);
    let supergraph = supergraph
        .replacen(
            "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)",
            "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)\n  @link(url: \"https://specs.apollo.dev/cost/v0.1\", import: [\"@cost\", \"@listSize\"])",
            1,
        )
        .replace("items(first: Int): [Item]", "items(first: Int): [Item] @listSize(slicingArguments: [\"first\"], assumedSize: 50, requireOneSlicingArgument: false)")
        .replace("type Item\n", "type Item @cost(weight: 7)\n")
        + "\ndirective @cost(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR\ndirective @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION\n";
    assert!(
        supergraph.contains("@cost(weight: 7)") && supergraph.contains("@listSize"),
        "{supergraph}"
    );
    let mut config = GatewayConfig::default();
    config.limits.max_cost = Some(100);
    let router = crate::start_router(&supergraph, config).await;

    // `first: 10` slices the list: 10 × 7 = 70 fits; `first: 20` (140) does not, nor does the
    // assumed size of 50 (350) when no slicing argument is given (allowed here by
    // `requireOneSlicingArgument: false`). Variables count too.
    let (_, body) = post_query(&router, "{ items(first: 10) { id } }").await;
    assert_ne!(code(&body), "COST_LIMIT_EXCEEDED", "{body}");
    let (_, body) = post_query(&router, "{ items(first: 20) { id } }").await;
    assert_eq!(code(&body), "COST_LIMIT_EXCEEDED", "{body}");
    let (_, body) = post_query(&router, "{ items { id } }").await;
    assert_eq!(code(&body), "COST_LIMIT_EXCEEDED", "{body}");
    let response: Value = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(&json!({ "query": "query($n: Int) { items(first: $n) { id } }", "variables": { "n": 30 } }))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(code(&response), "COST_LIMIT_EXCEEDED", "{response}");
    router.shutdown().await;
}

#[tokio::test]
async fn cost_directives_are_read_under_their_linked_names_and_size_the_fields_they_name() {
    const PAGES: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
type Query { page(first: Int, last: Int): Page }
type Page { nodes: [Item] total: Int }
type Item { id: ID name: String }"#;
    // `@cost` imported as `@price`; a bare `@cost` on the type is some other directive.
    let supergraph = crate::compose_one("pages", "http://127.0.0.1:1/graphql", PAGES)
        .replacen(
            "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)",
            "@link(url: \"https://specs.apollo.dev/join/v0.3\", for: EXECUTION)\n  @link(url: \"https://specs.apollo.dev/cost/v0.1\", import: [{ name: \"@cost\", as: \"@price\" }, \"@listSize\"])",
            1,
        )
        .replace(
            "page(first: Int, last: Int): Page",
            "page(first: Int, last: Int): Page @listSize(slicingArguments: [\"first\", \"last\"], sizedFields: [\"nodes\"])",
        )
        .replace("type Item\n", "type Item @price(weight: 3) @cost(weight: 1000)\n")
        + "\ndirective @price(weight: Int!) on ARGUMENT_DEFINITION | ENUM | FIELD_DEFINITION | INPUT_FIELD_DEFINITION | OBJECT | SCALAR\ndirective @cost(weight: Int!) on OBJECT\ndirective @listSize(assumedSize: Int, slicingArguments: [String!], sizedFields: [String!], requireOneSlicingArgument: Boolean = true) on FIELD_DEFINITION\n";
    assert!(supergraph.contains("@price(weight: 3)"), "{supergraph}");
    let mut config = GatewayConfig::default();
    config.limits.max_cost = Some(20);
    let router = crate::start_router(&supergraph, config).await;

    // page: 1, and its 5 nodes at 3 each: 16 fits; 10 nodes (31) do not.
    let (_, body) = post_query(&router, "{ page(first: 5) { nodes { id } total } }").await;
    assert_eq!(
        code(&body),
        "SUBGRAPH_REQUEST_FAILED",
        "planned and sent: {body}"
    );
    let (status, body) = post_query(&router, "{ page(first: 10) { nodes { id } } }").await;
    assert_eq!(
        (status, code(&body)),
        (400, "COST_LIMIT_EXCEEDED"),
        "{body}"
    );
    // Exactly one slicing argument is required (the default of requireOneSlicingArgument).
    for query in [
        "{ page { nodes { id } } }",
        "{ page(first: 1, last: 1) { nodes { id } } }",
    ] {
        let (status, body) = post_query(&router, query).await;
        assert_eq!(
            (status, code(&body)),
            (400, "SLICING_ARGUMENT_REQUIRED"),
            "{query}: {body}"
        );
    }
    router.shutdown().await;
}

#[tokio::test]
async fn selection_sets_nested_through_fragment_chains_are_refused_before_validation() {
    // 12 fragments, each nesting 30 inline fragments around a spread of the next: 360 levels,
    // each definition within the parser's limit. Validation would recurse through all of them.
    let mut query = String::from("{ ...F0 }\n");
    for i in 0..12 {
        let inner = if i == 11 {
            "item { id }".to_owned()
        } else {
            format!("...F{}", i + 1)
        };
        query.push_str(&format!(
            "fragment F{i} on Query {{ {}{inner}{} }}\n",
            "... { ".repeat(30),
            " }".repeat(30)
        ));
    }
    let (router, count) = router(GatewayConfig::default()).await;
    let (status, body) = post_query(&router, &query).await;
    assert_eq!((status, code(&body)), (400, "MAX_DEPTH_EXCEEDED"), "{body}");
    assert_eq!(count.load(Ordering::SeqCst), 0);
    router.shutdown().await;
}
