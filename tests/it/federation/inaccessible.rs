//! `@inaccessible`: fields and types so marked are part of the supergraph but not of the API:
//! a query naming them fails validation before any subgraph is asked, and introspection does
//! not show them.

use serde_json::json;
use tessera_tests::federation::{GRAPHQL_RESPONSE, Subgraph};

use super::start;

mod accounts {
    use async_graphql::{ID, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(inaccessible)]
    pub struct AuditEntry {
        action: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct User {
        id: ID,
        name: String,
        #[graphql(inaccessible)]
        password_hash: String,
        #[graphql(inaccessible)]
        audit: Vec<AuditEntry>,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn users(&self) -> Vec<User> {
            vec![User {
                id: "u1".into(),
                name: "Ada Lovelace".into(),
                password_hash: "$argon2id$v=19$secret".into(),
                audit: vec![AuditEntry {
                    action: "login".into(),
                }],
            }]
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![Subgraph::query("accounts", accounts::Query)]
}

#[tokio::test]
async fn rejects_a_query_for_an_inaccessible_field() {
    let f = start(subgraphs()).await;
    let query = "{ users { name passwordHash } }";
    let expected = json!({ "errors": [ {
        "message": "type `User` does not have a field `passwordHash`",
        "locations": [ { "line": 1, "column": 16 } ],
        "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
    } ] });

    let reply = f.request(query).send().await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, expected);

    let reply = f.request(query).accept(GRAPHQL_RESPONSE).send().await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body, expected);

    assert_eq!(f.requests_to("accounts"), 0);
    f.shutdown().await;
}

#[tokio::test]
async fn rejects_a_fragment_on_an_inaccessible_type() {
    let f = start(subgraphs()).await;
    let reply = f
        .request("{ users { name ... on AuditEntry { action } } }")
        .accept(GRAPHQL_RESPONSE)
        .send()
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        json!({ "errors": [ {
            "message": "type condition `AuditEntry` of inline fragment is not a type defined in the schema",
            "locations": [ { "line": 1, "column": 23 } ],
            "extensions": { "code": "GRAPHQL_VALIDATION_FAILED" },
        } ] })
    );
    assert_eq!(f.requests_to("accounts"), 0);
    f.shutdown().await;
}

#[tokio::test]
async fn leaves_inaccessible_fields_and_types_out_of_introspection_and_fetches() {
    let f = start(subgraphs()).await;
    let response = f
        .query(r#"{ audit: __type(name: "AuditEntry") { name } user: __type(name: "User") { fields { name } } }"#)
        .await;
    assert_eq!(
        response,
        json!({ "data": {
            "audit": null,
            "user": { "fields": [ { "name": "id" }, { "name": "name" } ] },
        } })
    );

    let (response, plan) = f.query_with_plan("{ users { id name } }").await;
    assert_eq!(
        response,
        json!({ "data": { "users": [ { "id": "u1", "name": "Ada Lovelace" } ] } })
    );
    insta::assert_snapshot!("accessible_part", plan);
    f.shutdown().await;
}
