//! `@key`: entity jumps through a single key, a compound key, a nested key and one of several
//! keys; a key declared `resolvable: false` is never jumped into; the objects of a list are
//! fetched in one `_entities` request, each distinct representation once.

use serde_json::json;
use tessera_tests::federation::Subgraph;

use super::{representations, start};

/// Owns users, organizations and employees; each is reachable through every key it declares.
mod people {
    use async_graphql::{ID, InputObject, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    pub struct User {
        id: ID,
        email: String,
        #[graphql(shareable)]
        name: String,
        organization: Organization,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Organization {
        id: ID,
        country: String,
        code: String,
        name: String,
    }

    /// Employee numbers are unique only within an organization.
    #[derive(SimpleObject, Clone)]
    pub struct Employee {
        organization: Organization,
        number: i32,
        title: String,
    }

    #[derive(InputObject)]
    pub struct OrganizationKey {
        id: ID,
    }

    fn organizations() -> Vec<Organization> {
        let org = |id: &str, country: &str, code: &str, name: &str| Organization {
            id: id.into(),
            country: country.into(),
            code: code.into(),
            name: name.into(),
        };
        vec![
            org("o1", "NO", "981", "Fjord AS"),
            org("o2", "SE", "556", "Skog AB"),
        ]
    }

    fn organization(id: &str) -> Organization {
        organizations()
            .into_iter()
            .find(|o| o.id.as_str() == id)
            .expect("a fixture organization")
    }

    fn users() -> Vec<User> {
        let user = |id: &str, email: &str, name: &str, org: &str| User {
            id: id.into(),
            email: email.into(),
            name: name.into(),
            organization: organization(org),
        };
        vec![
            user("u1", "ada@example.com", "Ada Lovelace", "o1"),
            user("u2", "grace@example.com", "Grace Hopper", "o2"),
            user("u3", "alan@example.com", "Alan Turing", "o1"),
            user("u4", "edsger@example.com", "Edsger Dijkstra", "o1"),
        ]
    }

    fn employees() -> Vec<Employee> {
        let employee = |org: &str, number: i32, title: &str| Employee {
            organization: organization(org),
            number,
            title: title.into(),
        };
        vec![
            employee("o1", 1, "Engineer"),
            employee("o2", 1, "Designer"),
            employee("o1", 2, "Manager"),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn users(&self) -> Vec<User> {
            users()
        }

        async fn employees(&self) -> Vec<Employee> {
            employees()
        }

        #[graphql(entity)]
        async fn user_by_id(&self, id: ID) -> Option<User> {
            users().into_iter().find(|u| u.id == id)
        }

        #[graphql(entity)]
        async fn user_by_email(&self, email: String) -> Option<User> {
            users().into_iter().find(|u| u.email == email)
        }

        #[graphql(entity)]
        async fn organization_by_id(&self, id: ID) -> Option<Organization> {
            organizations().into_iter().find(|o| o.id == id)
        }

        #[graphql(entity)]
        async fn organization_by_registration(
            &self,
            country: String,
            code: String,
        ) -> Option<Organization> {
            organizations()
                .into_iter()
                .find(|o| o.country == country && o.code == code)
        }

        #[graphql(entity)]
        async fn employee(&self, organization: OrganizationKey, number: i32) -> Option<Employee> {
            employees()
                .into_iter()
                .find(|e| e.organization.id == organization.id && e.number == number)
        }
    }
}

/// Salaries, keyed like `people` keys employees (nested); organizations only by reference.
mod payroll {
    use async_graphql::{ID, InputObject, Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "id")]
    pub struct Organization {
        id: ID,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Employee {
        organization: Organization,
        number: i32,
        salary: i32,
    }

    #[derive(InputObject)]
    pub struct OrganizationKey {
        id: ID,
    }

    fn employees() -> Vec<Employee> {
        let employee = |org: &str, number: i32, salary: i32| Employee {
            organization: Organization { id: org.into() },
            number,
            salary,
        };
        vec![
            employee("o1", 1, 5100),
            employee("o2", 1, 4800),
            employee("o1", 2, 6200),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn payroll(&self) -> Vec<Employee> {
            employees()
        }

        #[graphql(entity)]
        async fn employee(&self, organization: OrganizationKey, number: i32) -> Option<Employee> {
            employees()
                .into_iter()
                .find(|e| e.organization.id == organization.id && e.number == number)
        }
    }
}

/// The company register: organizations keyed by country and registration code (compound),
/// each with a contact person known only by email.
mod registry {
    use async_graphql::{Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "email")]
    pub struct User {
        email: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Organization {
        country: String,
        code: String,
        vat_number: String,
        contact: User,
    }

    fn organizations() -> Vec<Organization> {
        let org = |country: &str, code: &str, vat: &str, contact: &str| Organization {
            country: country.into(),
            code: code.into(),
            vat_number: vat.into(),
            contact: User {
                email: contact.into(),
            },
        };
        vec![
            org("NO", "981", "NO981MVA", "ada@example.com"),
            org("SE", "556", "SE556001", "grace@example.com"),
        ]
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn organizations(&self) -> Vec<Organization> {
            organizations()
        }

        #[graphql(entity)]
        async fn organization(&self, country: String, code: String) -> Option<Organization> {
            organizations()
                .into_iter()
                .find(|o| o.country == country && o.code == code)
        }
    }
}

/// Posts with a copy of their author's name. It cannot look users up, so its key is
/// `resolvable: false`; it sorts before `people`, so a planner that ignored that would pick it.
mod archive {
    use async_graphql::{Object, SimpleObject};

    #[derive(SimpleObject, Clone)]
    #[graphql(unresolvable = "email")]
    pub struct User {
        email: String,
        #[graphql(shareable)]
        name: String,
    }

    #[derive(SimpleObject, Clone)]
    pub struct Post {
        title: String,
        author: User,
    }

    pub struct Query;

    #[Object]
    impl Query {
        async fn posts(&self) -> Vec<Post> {
            let post = |title: &str, email: &str, name: &str| Post {
                title: title.into(),
                author: User {
                    email: email.into(),
                    name: name.into(),
                },
            };
            vec![
                post("On computable numbers", "alan@example.com", "Alan Turing"),
                post(
                    "Notes on the analytical engine",
                    "ada@example.com",
                    "Ada Lovelace",
                ),
            ]
        }
    }
}

fn subgraphs() -> Vec<Subgraph> {
    vec![
        Subgraph::query("archive", archive::Query),
        Subgraph::query("payroll", payroll::Query),
        Subgraph::query("people", people::Query),
        Subgraph::query("registry", registry::Query),
    ]
}

#[tokio::test]
async fn jumps_to_the_owning_subgraph_through_a_key() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ posts { title author { name id } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "posts": [
            { "title": "On computable numbers", "author": { "name": "Alan Turing", "id": "u3" } },
            { "title": "Notes on the analytical engine", "author": { "name": "Ada Lovelace", "id": "u1" } },
        ] } })
    );
    insta::assert_snapshot!("single_key", plan);
    assert_eq!(
        representations(&f, "people"),
        vec![vec![
            json!({ "__typename": "User", "email": "alan@example.com" }),
            json!({ "__typename": "User", "email": "ada@example.com" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn jumps_through_a_compound_key() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ organizations { vatNumber name } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "organizations": [
            { "vatNumber": "NO981MVA", "name": "Fjord AS" },
            { "vatNumber": "SE556001", "name": "Skog AB" },
        ] } })
    );
    insta::assert_snapshot!("compound_key", plan);
    assert_eq!(
        representations(&f, "people"),
        vec![vec![
            json!({ "__typename": "Organization", "country": "NO", "code": "981" }),
            json!({ "__typename": "Organization", "country": "SE", "code": "556" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn jumps_through_a_nested_key() {
    let f = start(subgraphs()).await;
    let (response, plan) = f
        .query_with_plan("{ employees { organization { name } number title salary } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "employees": [
            { "organization": { "name": "Fjord AS" }, "number": 1, "title": "Engineer", "salary": 5100 },
            { "organization": { "name": "Skog AB" }, "number": 1, "title": "Designer", "salary": 4800 },
            { "organization": { "name": "Fjord AS" }, "number": 2, "title": "Manager", "salary": 6200 },
        ] } })
    );
    insta::assert_snapshot!("nested_key", plan);
    assert_eq!(
        representations(&f, "payroll"),
        vec![vec![
            json!({ "__typename": "Employee", "organization": { "id": "o1" }, "number": 1 }),
            json!({ "__typename": "Employee", "organization": { "id": "o2" }, "number": 1 }),
            json!({ "__typename": "Employee", "organization": { "id": "o1" }, "number": 2 }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn jumps_through_the_key_the_caller_holds_when_there_are_several() {
    let f = start(subgraphs()).await;
    // payroll knows organizations by id only, registry by country and code only: `people`
    // declares both keys, and each jump must use the one its caller can fill in.
    let (response, plan) = f
        .query_with_plan("{ payroll { number organization { name } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "payroll": [
            { "number": 1, "organization": { "name": "Fjord AS" } },
            { "number": 1, "organization": { "name": "Skog AB" } },
            { "number": 2, "organization": { "name": "Fjord AS" } },
        ] } })
    );
    insta::assert_snapshot!("several_keys_by_id", plan);
    assert_eq!(
        representations(&f, "people"),
        vec![vec![
            json!({ "__typename": "Organization", "id": "o1" }),
            json!({ "__typename": "Organization", "id": "o2" }),
        ]]
    );
    f.forget_requests();

    let (response, plan) = f
        .query_with_plan("{ organizations { code contact { id } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "organizations": [
            { "code": "981", "contact": { "id": "u1" } },
            { "code": "556", "contact": { "id": "u2" } },
        ] } })
    );
    insta::assert_snapshot!("several_keys_by_email", plan);
    assert_eq!(
        representations(&f, "people"),
        vec![vec![
            json!({ "__typename": "User", "email": "ada@example.com" }),
            json!({ "__typename": "User", "email": "grace@example.com" }),
        ]]
    );
    f.shutdown().await;
}

#[tokio::test]
async fn never_jumps_into_a_subgraph_whose_key_is_not_resolvable() {
    let f = start(subgraphs()).await;
    // `name` is in archive and in people; only people can look a user up by email.
    let (response, plan) = f
        .query_with_plan("{ organizations { contact { name } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "organizations": [
            { "contact": { "name": "Ada Lovelace" } },
            { "contact": { "name": "Grace Hopper" } },
        ] } })
    );
    insta::assert_snapshot!("non_resolvable_key", plan);
    assert_eq!(f.requests_to("archive"), 0);
    assert_eq!(f.requests_to("people"), 1);
    f.shutdown().await;
}

#[tokio::test]
async fn batches_entity_lookups() {
    let f = start(subgraphs()).await;
    // Four users in two organizations: one `_entities` request, each organization once.
    let (response, plan) = f
        .query_with_plan("{ users { name organization { vatNumber } } }")
        .await;
    assert_eq!(
        response,
        json!({ "data": { "users": [
            { "name": "Ada Lovelace", "organization": { "vatNumber": "NO981MVA" } },
            { "name": "Grace Hopper", "organization": { "vatNumber": "SE556001" } },
            { "name": "Alan Turing", "organization": { "vatNumber": "NO981MVA" } },
            { "name": "Edsger Dijkstra", "organization": { "vatNumber": "NO981MVA" } },
        ] } })
    );
    insta::assert_snapshot!("batched", plan);
    assert_eq!(f.requests_to("people"), 1);
    assert_eq!(
        representations(&f, "registry"),
        vec![vec![
            json!({ "__typename": "Organization", "country": "NO", "code": "981" }),
            json!({ "__typename": "Organization", "country": "SE", "code": "556" }),
        ]]
    );
    f.shutdown().await;
}
