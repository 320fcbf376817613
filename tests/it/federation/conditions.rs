//! `@skip` / `@include`: literal conditions are decided before planning; conditions on
//! variables (given or defaulted) are part of the one plan of the operation: the subgraph
//! operations carry them, a fetch whose fields are all excluded is not sent, and the response
//! leaves excluded fields out.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::start;

/// Lists products; nothing needs to look one up here.
mod catalog {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "upc")]
    pub struct Product {
        upc: ID,
        name: String,
        price: i32,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            vec![
                Product {
                    upc: "p1".into(),
                    name: "Teapot".into(),
                    price: 4000,
                },
                Product {
                    upc: "p2".into(),
                    name: "Kettle".into(),
                    price: 6000,
                },
            ]
        }
    }
}

mod reviews {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Review {
        body: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        reviews: Vec<Review>,
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Product {
            let body = format!("Fine {}", upc.as_str());
            Product {
                upc,
                reviews: vec![Review { body }],
            }
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("catalog", catalog::Query),
        Subgraph::query("reviews", reviews::Query),
    ]
}

const PRODUCTS: &str = "query Products($withReviews: Boolean!, $hidePrice: Boolean = true) {
    products {
        name
        price @skip(if: $hidePrice)
        reviews @include(if: $withReviews) { body }
        ... @include(if: $withReviews) { upc }
    }
}";

#[tokio::test]
async fn leaves_out_excluded_fields_and_the_subgraphs_only_they_need() {
    let f = start(subgraphs()).await;
    // `hidePrice` is absent: its default (true) applies.
    let reply = f
        .request(PRODUCTS)
        .variables(json!({ "withReviews": false }))
        .with_plan()
        .send()
        .await;
    assert_eq!(
        reply.body,
        json!({ "data": { "products": [ { "name": "Teapot" }, { "name": "Kettle" } ] } })
    );
    insta::assert_snapshot!("excluded", reply.plan.expect("a plan"));
    assert_eq!(f.requests_to("catalog"), 1);
    assert_eq!(f.requests_to("reviews"), 0);
    f.shutdown().await;
}

#[tokio::test]
async fn keeps_fields_whose_conditions_hold() {
    let f = start(subgraphs()).await;
    let reply = f
        .request(PRODUCTS)
        .variables(json!({ "withReviews": true, "hidePrice": false }))
        .operation_name("Products")
        .send()
        .await;
    assert_eq!(
        reply.body,
        json!({ "data": { "products": [
            { "name": "Teapot", "price": 4000, "reviews": [ { "body": "Fine p1" } ], "upc": "p1" },
            { "name": "Kettle", "price": 6000, "reviews": [ { "body": "Fine p2" } ], "upc": "p2" },
        ] } })
    );
    assert_eq!(f.requests_to("catalog"), 1);
    assert_eq!(f.requests_to("reviews"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn plans_an_operation_once_whatever_its_conditions() {
    let f = start(subgraphs()).await;
    let run = |with_reviews: bool| {
        f.request(PRODUCTS)
            .variables(json!({ "withReviews": with_reviews }))
            .send()
    };
    let without = json!({ "data": { "products": [ { "name": "Teapot" }, { "name": "Kettle" } ] } });
    let with = json!({ "data": { "products": [
        { "name": "Teapot", "reviews": [ { "body": "Fine p1" } ], "upc": "p1" },
        { "name": "Kettle", "reviews": [ { "body": "Fine p2" } ], "upc": "p2" },
    ] } });
    let first = run(false).await;
    assert_eq!(first.body, without);
    let second = run(true).await;
    assert_eq!(second.body, with);
    assert_eq!(run(false).await.body, without);
    assert_eq!(first.plan, second.plan, "one plan serves both");
    assert_eq!(f.cached_plans(), 1);
    assert_eq!(f.requests_to("reviews"), 1);
    // The subgraph decides each condition: the operations carry them and their variables.
    let asked = f.received_by("catalog");
    let query = asked[0].query();
    for part in [
        "$hidePrice:Boolean=true",
        "price@skip(if:$hidePrice)",
        "upc@include(if:$withReviews)",
    ] {
        assert!(query.replace(' ', "").contains(part), "{part} in {query}");
    }
    f.shutdown().await;
}

#[tokio::test]
async fn objects_also_selected_without_the_condition_are_not_fetched_for_it() {
    let f = start(subgraphs()).await;
    // `products` answers unconditionally, so its objects are there either way; the reviews
    // fetch below the conditional copy still waits for its condition.
    let query = "query($x: Boolean!) { products { upc } ... @include(if: $x) { products { reviews { body } } } }";
    let reply = f
        .request(query)
        .variables(json!({ "x": false }))
        .send()
        .await;
    assert_eq!(
        reply.body,
        json!({ "data": { "products": [ { "upc": "p1" }, { "upc": "p2" } ] } })
    );
    assert_eq!(f.requests_to("reviews"), 0);
    let reply = f
        .request(query)
        .variables(json!({ "x": true }))
        .send()
        .await;
    assert_eq!(
        reply.body["data"]["products"][1],
        json!({ "upc": "p2", "reviews": [ { "body": "Fine p2" } ] })
    );
    assert_eq!(f.requests_to("reviews"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn a_field_under_two_conditions_of_one_kind_needs_both() {
    let f = start(subgraphs()).await;
    // The fragment's `@include` and the field's own meet on `name`; neither directive may be
    // repeated in the subgraph operation.
    let query = "query($a: Boolean!, $b: Boolean!, $c: Boolean!, $d: Boolean!) {
        products { upc ... @include(if: $a) @skip(if: $c) { name @include(if: $b) @skip(if: $d) } }
    }";
    for a in [false, true] {
        for b in [false, true] {
            for (c, d) in [(false, false), (true, false), (false, true), (true, true)] {
                let reply = f
                    .request(query)
                    .variables(json!({ "a": a, "b": b, "c": c, "d": d }))
                    .send()
                    .await;
                let products = if a && b && !c && !d {
                    json!([ { "upc": "p1", "name": "Teapot" }, { "upc": "p2", "name": "Kettle" } ])
                } else {
                    json!([ { "upc": "p1" }, { "upc": "p2" } ])
                };
                assert_eq!(
                    reply.body,
                    json!({ "data": { "products": products } }),
                    "a={a} b={b} c={c} d={d}"
                );
            }
        }
    }
    f.shutdown().await;
}

#[tokio::test]
async fn the_same_conditions_in_another_order_select_the_field_once() {
    let f = start(subgraphs()).await;
    let query = "query($a: Boolean!, $b: Boolean!) { products {
        ... @include(if: $a) { name @skip(if: $b) }
        ... @skip(if: $b) { name @include(if: $a) }
    } }";
    let reply = f
        .request(query)
        .variables(json!({ "a": true, "b": false }))
        .send()
        .await;
    assert_eq!(
        reply.body,
        json!({ "data": { "products": [ { "name": "Teapot" }, { "name": "Kettle" } ] } })
    );
    let asked = f.received_by("catalog");
    assert_eq!(
        asked[0].query().matches("name").count(),
        1,
        "{}",
        asked[0].query()
    );
    f.shutdown().await;
}

#[tokio::test]
async fn a_mutation_field_a_condition_leaves_out_is_not_run() {
    let f = start(vec![Subgraph::new(
        "ledger",
        tessera_tests::federation::schema(ledger::Query, ledger::Mutation::default()),
    )])
    .await;
    let query = "mutation($twice: Boolean!) { first: add(amount: 1) second: add(amount: 10) @include(if: $twice) }";
    let once = f
        .request(query)
        .variables(json!({ "twice": false }))
        .send()
        .await;
    assert_eq!(once.body, json!({ "data": { "first": 1 } }));
    let twice = f
        .request(query)
        .variables(json!({ "twice": true }))
        .send()
        .await;
    assert_eq!(twice.body, json!({ "data": { "first": 2, "second": 12 } }));
    assert_eq!(f.cached_plans(), 1);
    f.shutdown().await;
}

/// A running total that mutations add to.
mod ledger {
    use std::sync::atomic::{AtomicI32, Ordering};

    use async_graphql::Object;

    pub struct Query;

    #[Object]
    impl Query {
        async fn version(&self) -> i32 {
            1
        }
    }

    #[derive(Default)]
    pub struct Mutation(AtomicI32);

    #[Object]
    impl Mutation {
        async fn add(&self, amount: i32) -> i32 {
            self.0.fetch_add(amount, Ordering::SeqCst) + amount
        }
    }
}

#[tokio::test]
async fn decides_literal_conditions() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan(
            "{ products { name @include(if: false) upc @skip(if: false) ... @skip(if: true) { reviews { body } } } }",
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": { "products": [ { "upc": "p1" }, { "upc": "p2" } ] } })
    );
    insta::assert_snapshot!("literal", plan);
    assert_eq!(f.requests_to("reviews"), 0);
    f.shutdown().await;
}

#[tokio::test]
async fn an_entity_fetch_under_an_excluded_selection_does_not_hold_back_the_same_one_selected() {
    let f = start(subgraphs()).await;
    // The two `reviews` fetches send the same operation for the same objects; only the
    // second is selected.
    let body = f
        .request(
            "query($no: Boolean = false) {
                hidden: products @include(if: $no) { reviews { body } }
                shown: products { reviews { body } }
            }",
        )
        .send()
        .await
        .body;
    assert_eq!(
        body,
        json!({ "data": { "shown": [
            { "reviews": [{ "body": "Fine p1" }] },
            { "reviews": [{ "body": "Fine p2" }] },
        ] } })
    );
    assert_eq!(f.requests_to("reviews"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn a_fetch_shared_with_an_unconditional_selection_asks_for_the_conditional_part_under_its_condition()
 {
    let f = start(subgraphs()).await;
    // Both copies of `products` need the reviews subgraph: one fetch serves them, and the
    // conditional copy's field is asked for only when its condition holds.
    let query = "query($x: Boolean!) { products { reviews { body } } ... @include(if: $x) { products { more: reviews { body } } } }";
    for x in [false, true] {
        let reply = f.request(query).variables(json!({ "x": x })).send().await;
        let reviews = json!([ { "body": "Fine p1" } ]);
        let expected = match x {
            true => json!({ "reviews": reviews, "more": reviews }),
            false => json!({ "reviews": reviews }),
        };
        assert_eq!(reply.body["data"]["products"][0], expected, "x = {x}");
        let sent = f.received_by("reviews");
        assert_eq!(sent.len(), 1, "x = {x}");
        assert!(
            sent[0].query().contains("more:reviews@include(if:$x)"),
            "{}",
            sent[0].query()
        );
        f.forget_requests();
    }
    f.shutdown().await;
}
