//! `@provides` / `@external`: a field another subgraph owns is taken from the subgraph that
//! provides it on that path, with no request to the owner; on a path without `@provides`, the
//! same external field comes from its owner.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::start;

/// Owns products.
mod products {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct Product {
        upc: ID,
        #[graphql(shareable)]
        name: String,
        price: i32,
    }

    fn products() -> Vec<Product> {
        let product = |upc: &str, name: &str, price: i32| Product {
            upc: upc.into(),
            name: name.into(),
            price,
        };
        vec![
            product("p1", "Teapot", 4000),
            product("p2", "Kettle", 6000),
            product("p3", "Mug", 900),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Option<Product> {
            products().into_iter().find(|p| p.upc == upc)
        }
    }
}

/// Reviews keep the reviewed product's name, and say so with `@provides`; the related product
/// comes without it.
mod reviews {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "upc")]
    pub struct Product {
        upc: ID,
        #[graphql(external)]
        name: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Review {
        body: String,
        #[graphql(provides = "name")]
        product: Product,
        related: Product,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn reviews(&self) -> Vec<Review> {
            let product = |upc: &str, name: &str| Product {
                upc: upc.into(),
                name: name.into(),
            };
            vec![
                Review {
                    body: "Pours without a drip".into(),
                    product: product("p1", "Teapot"),
                    related: product("p3", "Mug"),
                },
                Review {
                    body: "Whistles on time".into(),
                    product: product("p2", "Kettle"),
                    related: product("p1", "Teapot"),
                },
            ]
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("products", products::Query),
        Subgraph::query("reviews", reviews::Query),
    ]
}

#[tokio::test]
async fn takes_provided_fields_from_the_providing_subgraph() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ reviews { body product { upc name } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "reviews": [
            { "body": "Pours without a drip", "product": { "upc": "p1", "name": "Teapot" } },
            { "body": "Whistles on time", "product": { "upc": "p2", "name": "Kettle" } },
        ] } })
    );
    insta::assert_snapshot!("provided", plan);
    assert_eq!(f.requests_to("reviews"), 1);
    assert_eq!(f.requests_to("products"), 0);
    f.shutdown().await;
}

#[tokio::test]
async fn fetches_unprovided_external_fields_from_their_owner() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ reviews { product { name price } related { name } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "reviews": [
            { "product": { "name": "Teapot", "price": 4000 }, "related": { "name": "Mug" } },
            { "product": { "name": "Kettle", "price": 6000 }, "related": { "name": "Teapot" } },
        ] } })
    );
    insta::assert_snapshot!("not_provided", plan);
    // Two fetches of one step, in one request: the price for the reviewed products (their
    // provided name is not asked for again), and the name for the related ones, each an
    // `_entities` call of its own.
    let fetches = f.received_by("products");
    assert_eq!(fetches.len(), 1);
    let query = fetches[0].query();
    let (price_call, name_call) = match query.split_once("_1:_entities") {
        Some((first, second)) if first.contains("price") => (first, second),
        Some((first, second)) => (second, first),
        None => panic!("two calls: {query}"),
    };
    assert!(
        price_call.contains("price") && !price_call.contains("name"),
        "{query}"
    );
    assert!(name_call.contains("name"), "{query}");
    let variables = &fetches[0].body["variables"];
    let calls: Vec<&serde_json::Value> = ["representations_0", "representations_1"]
        .iter()
        .map(|v| &variables[v])
        .collect();
    let reviewed = json!([
        { "__typename": "Product", "upc": "p1" },
        { "__typename": "Product", "upc": "p2" },
    ]);
    let related = json!([
        { "__typename": "Product", "upc": "p3" },
        { "__typename": "Product", "upc": "p1" },
    ]);
    assert!(
        calls == [&reviewed, &related] || calls == [&related, &reviewed],
        "{variables}"
    );
    if calls[0] == &reviewed {
        assert!(query.find("price") < query.find("_1:_entities"), "{query}");
    }
    f.shutdown().await;
}
