//! `@skip` / `@include`: conditions from variables (given or defaulted) and literals decide the
//! selection before planning, so a subgraph whose fields are all excluded is not asked at all,
//! and the same operation with other variables gets a plan of its own.

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
        .with_plan()
        .send()
        .await;
    assert_eq!(
        reply.body,
        json!({ "data": { "products": [
            { "name": "Teapot", "price": 4000, "reviews": [ { "body": "Fine p1" } ], "upc": "p1" },
            { "name": "Kettle", "price": 6000, "reviews": [ { "body": "Fine p2" } ], "upc": "p2" },
        ] } })
    );
    insta::assert_snapshot!("included", reply.plan.expect("a plan"));
    assert_eq!(f.requests_to("catalog"), 1);
    assert_eq!(f.requests_to("reviews"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn plans_the_same_operation_again_when_its_conditions_change() {
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
    assert_eq!(run(false).await.body, without);
    assert_eq!(run(true).await.body, with);
    assert_eq!(run(false).await.body, without);
    assert_eq!(f.requests_to("reviews"), 1);
    f.shutdown().await;
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
