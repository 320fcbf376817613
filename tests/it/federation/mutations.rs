//! Mutations: root mutation fields run one after the other, in document order, even when they
//! alternate between subgraphs.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tessera_tests::federation::{Subgraph, schema};

use super::start;

type Ledger = Arc<Mutex<Vec<String>>>;

fn push(ledger: &Ledger, entry: String) -> usize {
    let mut ledger = ledger.lock().unwrap_or_else(|p| p.into_inner());
    ledger.push(entry);
    ledger.len()
}

mod accounts {
    use async_graphql::{ID, Object, SimpleObject};

    use super::{Ledger, push};

    #[derive(SimpleObject)]
    pub struct User {
        id: ID,
        name: String,
    }

    pub struct Query(pub Ledger);

    #[Object]
    impl Query {
        async fn user_count(&self) -> usize {
            self.0.lock().map(|l| l.len()).unwrap_or_default()
        }
    }

    pub struct Mutation(pub Ledger);

    #[Object]
    impl Mutation {
        async fn create_user(&self, name: String) -> User {
            let n = push(&self.0, name.clone());
            User {
                id: format!("user-{n}").into(),
                name,
            }
        }
    }
}

mod orders {
    use async_graphql::{ID, Object, SimpleObject};

    use super::{Ledger, push};

    #[derive(SimpleObject)]
    pub struct Order {
        id: ID,
        item: String,
    }

    pub struct Query(pub Ledger);

    #[Object]
    impl Query {
        async fn order_count(&self) -> usize {
            self.0.lock().map(|l| l.len()).unwrap_or_default()
        }
    }

    pub struct Mutation(pub Ledger);

    #[Object]
    impl Mutation {
        async fn place_order(&self, item: String) -> Order {
            let n = push(&self.0, item.clone());
            Order {
                id: format!("order-{n}").into(),
                item,
            }
        }
    }
}

#[tokio::test]
async fn runs_mutation_fields_in_order_across_subgraphs() {
    let users = Ledger::default();
    let orders = Ledger::default();
    let f = start([
        Subgraph::new(
            "accounts",
            schema(accounts::Query(users.clone()), accounts::Mutation(users)),
        ),
        Subgraph::new(
            "orders",
            schema(orders::Query(orders.clone()), orders::Mutation(orders)),
        ),
    ])
    .await;
    let (response, plan) = f
        .query_with_plan(
            r#"mutation Checkout {
                first: placeOrder(item: "tea") { id item }
                signUp: createUser(name: "Ada") { id name }
                second: placeOrder(item: "cake") { id item }
            }"#,
        )
        .await;
    assert_eq!(
        response,
        json!({ "data": {
            "first": { "id": "order-1", "item": "tea" },
            "signUp": { "id": "user-1", "name": "Ada" },
            "second": { "id": "order-2", "item": "cake" },
        } })
    );
    insta::assert_snapshot!("in_order", plan);
    let order: Vec<String> = f.received().into_iter().map(|r| r.subgraph).collect();
    assert_eq!(order, ["orders", "accounts", "orders"]);

    let response = f.query("{ userCount orderCount }").await;
    assert_eq!(
        response,
        json!({ "data": { "userCount": 1, "orderCount": 2 } })
    );
    f.shutdown().await;
}
