//! `@shareable`: a field two subgraphs resolve is taken from whichever is already resolving its
//! parent; the other is asked only for what it alone has.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::start;

/// Owns prices; shares product names.
mod catalog {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        #[graphql(shareable)]
        name: String,
        price: i32,
    }

    fn products() -> Vec<Product> {
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

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_products(&self) -> Vec<Product> {
            products()
        }

        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Option<Product> {
            products().into_iter().find(|p| p.upc == upc)
        }
    }
}

/// Owns stock levels; shares product names.
mod inventory {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        #[graphql(shareable)]
        name: String,
        in_stock: bool,
    }

    fn products() -> Vec<Product> {
        vec![
            Product {
                upc: "p2".into(),
                name: "Kettle".into(),
                in_stock: true,
            },
            Product {
                upc: "p1".into(),
                name: "Teapot".into(),
                in_stock: false,
            },
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn stocked_products(&self) -> Vec<Product> {
            products()
        }

        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Option<Product> {
            products().into_iter().find(|p| p.upc == upc)
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("catalog", catalog::Query),
        Subgraph::query("inventory", inventory::Query),
    ]
}

#[tokio::test]
async fn takes_a_shareable_field_from_the_subgraph_already_resolving_its_parent() {
    let f = start(subgraphs()).await;
    let (response, plan) = f.query_with_plan("{ topProducts { name price } }").await;
    assert_eq!(
        response,
        json!({ "data": { "topProducts": [
            { "name": "Teapot", "price": 4000 },
            { "name": "Kettle", "price": 6000 },
        ] } })
    );
    insta::assert_snapshot!("from_catalog", plan);
    assert_eq!(f.requests_to("catalog"), 1);
    assert_eq!(f.requests_to("inventory"), 0);
    f.forget_requests();

    let (response, plan) = f
        .query_with_plan("{ stockedProducts { name inStock } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "stockedProducts": [
            { "name": "Kettle", "inStock": true },
            { "name": "Teapot", "inStock": false },
        ] } })
    );
    insta::assert_snapshot!("from_inventory", plan);
    assert_eq!(f.requests_to("catalog"), 0);
    assert_eq!(f.requests_to("inventory"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn asks_the_other_subgraph_only_for_what_it_alone_has() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ stockedProducts { name inStock price } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "stockedProducts": [
            { "name": "Kettle", "inStock": true, "price": 6000 },
            { "name": "Teapot", "inStock": false, "price": 4000 },
        ] } })
    );
    insta::assert_snapshot!("jump_for_the_rest", plan);
    let catalog = f.received_by("catalog");
    assert_eq!(catalog.len(), 1);
    assert!(
        !catalog[0].query().contains("name"),
        "the name is already known: {}",
        catalog[0].query()
    );
    f.shutdown().await;
}
