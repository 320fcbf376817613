//! Errors: a subgraph that is down or answers garbage costs only its own fields, with an error
//! naming it; a subgraph's own errors keep their extensions, gain the subgraph's name, and get
//! their path mapped into the client's response; a non-null field left null nulls its nearest
//! nullable parent.

use async_graphql::EmptyMutation;
use serde_json::json;
use tessera_tests::federation::{Subgraph, schema};

use super::start;

/// Owns products and the shelf they stand on.
mod catalog {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "upc")]
    pub struct Product {
        upc: ID,
        name: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Shelf {
        name: String,
        products: Vec<Product>,
    }

    fn product(upc: &str, name: &str) -> Product {
        Product {
            upc: upc.into(),
            name: name.into(),
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn products(&self) -> Vec<Product> {
            vec![product("p1", "Teapot"), product("p2", "Kettle")]
        }

        async fn shelf(&self) -> Option<Shelf> {
            Some(Shelf {
                name: "Kitchen".into(),
                products: vec![product("p1", "Teapot"), product("p3", "Samovar")],
            })
        }
    }
}

/// Stock levels fail for one product; weights are unknown for a discontinued one.
mod inventory {
    use async_graphql::{Error, ErrorExtensions, ID, Object, Result};

    pub struct Product {
        upc: ID,
    }

    #[Object]
    impl Product {
        async fn upc(&self) -> &ID {
            &self.upc
        }

        async fn stock(&self) -> Result<Option<i32>> {
            match self.upc.as_str() {
                "p1" => Ok(Some(5)),
                "p2" => Err(
                    Error::new("the stock service is unavailable").extend_with(|_, e| {
                        e.set("code", "STOCK_UNAVAILABLE");
                        e.set("retryable", true);
                    }),
                ),
                _ => Ok(None),
            }
        }

        async fn weight(&self) -> Result<i32> {
            match self.upc.as_str() {
                "p1" => Ok(1200),
                "p2" => Ok(2500),
                _ => Err(Error::new("discontinued")),
            }
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn product(&self, upc: ID) -> Product {
            Product { upc }
        }
    }
}

fn catalog() -> Subgraph {
    Subgraph::query("catalog", catalog::Query)
}

/// Its errors under `_entities` must name the representation's index for the router to map
/// them onto the objects they belong to.
fn inventory() -> Subgraph {
    Subgraph::indexing_entity_errors("inventory", schema(inventory::Query, EmptyMutation))
}

#[tokio::test]
async fn reports_a_subgraph_that_is_down_and_keeps_the_rest_of_the_data() {
    let f = start([catalog(), inventory().down()]).await;
    let (response, plan) = f.query_with_plan("{ products { name stock } }").await;
    assert_eq!(
        response,
        json!({
            // One error for each object the fetch left without its fields.
            "errors": [ {
                "message": "the request to subgraph inventory failed: could not connect",
                "path": [ "products", 0 ],
                "extensions": { "code": "SUBGRAPH_REQUEST_FAILED", "service": "inventory" },
            }, {
                "message": "the request to subgraph inventory failed: could not connect",
                "path": [ "products", 1 ],
                "extensions": { "code": "SUBGRAPH_REQUEST_FAILED", "service": "inventory" },
            } ],
            "data": { "products": [
                { "name": "Teapot", "stock": null },
                { "name": "Kettle", "stock": null },
            ] },
        })
    );
    insta::assert_snapshot!("down", plan);
    f.shutdown().await;
}

#[tokio::test]
async fn reports_a_subgraph_that_answers_garbage() {
    let f = start([catalog(), inventory().answering_garbage()]).await;
    let response = f.query("{ products { name stock } }").await;
    assert_eq!(
        response,
        json!({
            // One error for each object the fetch left without its fields.
            "errors": [ {
                "message": "subgraph inventory returned an invalid GraphQL response: the body is not JSON",
                "path": [ "products", 0 ],
                "extensions": { "code": "SUBGRAPH_RESPONSE_INVALID", "service": "inventory" },
            }, {
                "message": "subgraph inventory returned an invalid GraphQL response: the body is not JSON",
                "path": [ "products", 1 ],
                "extensions": { "code": "SUBGRAPH_RESPONSE_INVALID", "service": "inventory" },
            } ],
            "data": { "products": [
                { "name": "Teapot", "stock": null },
                { "name": "Kettle", "stock": null },
            ] },
        })
    );
    assert_eq!(f.requests_to("inventory"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn keeps_a_subgraph_errors_extensions_and_maps_its_path_into_the_response() {
    let f = start([catalog(), inventory()]).await;
    let (response, plan) = f.query_with_plan("{ products { upc stock } }").await;
    assert_eq!(
        response,
        json!({
            "errors": [ {
                "message": "the stock service is unavailable",
                "path": [ "products", 1, "stock" ],
                "extensions": {
                    "code": "STOCK_UNAVAILABLE",
                    "retryable": true,
                    "service": "inventory",
                },
            } ],
            "data": { "products": [
                { "upc": "p1", "stock": 5 },
                { "upc": "p2", "stock": null },
            ] },
        })
    );
    insta::assert_snapshot!("subgraph_error", plan);
    f.shutdown().await;
}

#[tokio::test]
async fn nulls_the_nearest_nullable_parent_of_a_non_null_field_left_null() {
    let f = start([catalog(), inventory()]).await;
    // The second product's weight (Int!) fails: the product is null, so is the list of
    // non-null products, and so the nullable shelf.
    let (response, plan) = f
        .query_with_plan("{ shelf { name products { upc weight } } }")
        .await;
    assert_eq!(
        response,
        json!({
            "errors": [ {
                "message": "discontinued",
                "path": [ "shelf", "products", 1, "weight" ],
                "extensions": { "service": "inventory" },
            } ],
            "data": { "shelf": null },
        })
    );
    insta::assert_snapshot!("null_propagation", plan);
    f.shutdown().await;
}
