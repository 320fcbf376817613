//! `@override`: once a subgraph takes a field over, the router asks it, not the subgraph the
//! field came from, even when that one is already resolving the parent.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::{representations, start};

/// Owned prices until `pricing` took them over; still answers with its stale ones.
mod products {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        name: String,
        price: i32,
    }

    fn products() -> Vec<Product> {
        vec![
            Product {
                upc: "p1".into(),
                name: "Teapot".into(),
                price: 3999,
            },
            Product {
                upc: "p2".into(),
                name: "Kettle".into(),
                price: 5999,
            },
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            products()
        }

        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Option<Product> {
            products().into_iter().find(|p| p.upc == upc)
        }
    }
}

mod pricing {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        #[graphql(override_from = "products")]
        price: i32,
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Product {
            let price = if upc.as_str() == "p1" { 4200 } else { 6100 };
            Product { upc, price }
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("pricing", pricing::Query),
        Subgraph::query("products", products::Query),
    ]
}

#[tokio::test]
async fn serves_an_overridden_field_from_the_overriding_subgraph() {
    let f = start(subgraphs()).await;
    let (response, plan) = f.query_with_plan("{ products { name price } }").await;
    assert_eq!(
        response,
        json!({ "data": { "products": [
            { "name": "Teapot", "price": 4200 },
            { "name": "Kettle", "price": 6100 },
        ] } })
    );
    insta::assert_snapshot!("overridden", plan);
    let products = f.received_by("products");
    assert_eq!(products.len(), 1);
    assert!(
        !products[0].query().contains("price"),
        "the overridden field is not asked of its old owner: {}",
        products[0].query()
    );
    assert_eq!(
        representations(&f, "pricing"),
        vec![vec![
            json!({ "__typename": "Product", "upc": "p1" }),
            json!({ "__typename": "Product", "upc": "p2" }),
        ]]
    );
    f.shutdown().await;
}
