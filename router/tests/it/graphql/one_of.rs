//! OneOf input objects: `@oneOf` survives composition into the supergraph and its API schema
//! (declared or not), and the router enforces the specification's rules for literals and for
//! variable values before anything reaches a subgraph.

use serde_json::json;
use tessera_router::supergraph::Supergraph;

use super::{Harness, USERS, error, errors};

const INVALID: &str = "GRAPHQL_VALIDATION_FAILED";
const INPUT: &str = "BAD_USER_INPUT";

fn composed(sdl: &str) -> String {
    crate::compose_one("users", "http://users.invalid/graphql", sdl)
}

fn assert_api_has_one_of(supergraph: &str) {
    let supergraph = Supergraph::parse(supergraph).expect("the router loads it");
    let api = supergraph.api.to_string();
    assert!(api.contains("directive @oneOf on INPUT_OBJECT"), "{api}");
    assert!(api.contains("input UserBy @oneOf {"), "{api}");
    assert!(api.contains("input Filter {"), "{api}");
}

#[test]
fn composition_keeps_and_declares_one_of_whether_the_subgraph_declares_it_or_not() {
    let undeclared = USERS.replace("directive @oneOf on INPUT_OBJECT\n", "");
    for sdl in [USERS, undeclared.as_str()] {
        let supergraph = composed(sdl);
        assert!(
            supergraph.contains("directive @oneOf on INPUT_OBJECT")
                && supergraph.contains("  @oneOf\n"),
            "the supergraph declares and uses @oneOf:\n{supergraph}"
        );
        assert_api_has_one_of(&supergraph);
    }
}

#[test]
fn a_supergraph_using_one_of_without_declaring_it_loads_with_it_built_in() {
    let supergraph = composed(USERS).replace("directive @oneOf on INPUT_OBJECT\n", "");
    assert!(!supergraph.contains("directive @oneOf"));
    assert_api_has_one_of(&supergraph);
}

#[test]
fn a_one_of_input_with_a_required_or_defaulted_field_is_refused_at_load() {
    for (field, why) in [
        ("id: ID!", "must be nullable"),
        ("id: ID = \"1\"", "must have no default value"),
    ] {
        let sdl = USERS.replace(
            "input UserBy @oneOf { id: ID ",
            &format!("input UserBy @oneOf {{ {field} "),
        );
        assert_ne!(sdl, USERS, "the fixture changed");
        let error = Supergraph::parse(&composed(&sdl)).expect_err("refused");
        assert!(
            error.to_string().contains(&format!("UserBy.id {why}")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_literal_gives_exactly_one_field_and_not_null() {
    let router = Harness::one_of().await;
    let cases = [
        (
            r#"{ user(by: { id: "1", email: "a@b.c" }) { id } }"#,
            error(
                INVALID,
                "OneOf input object `UserBy` must be given exactly one field, not 2",
                1,
                12,
            ),
        ),
        (
            "{ user(by: {}) { id } }",
            error(
                INVALID,
                "OneOf input object `UserBy` must be given exactly one field, not 0",
                1,
                12,
            ),
        ),
        (
            "{ user(by: { id: null }) { id } }",
            error(
                INVALID,
                "OneOf input object field `UserBy.id` must not be null",
                1,
                12,
            ),
        ),
        (
            r#"{ users(filter: { by: { email: "a@b.c", id: 1 } }) { id } }"#,
            error(
                INVALID,
                "OneOf input object `UserBy` must be given exactly one field, not 2",
                1,
                23,
            ),
        ),
        (
            r#"{ users(filter: { any: [{ id: 1 }, { email: null }] }) { id } }"#,
            error(
                INVALID,
                "OneOf input object field `UserBy.email` must not be null",
                1,
                36,
            ),
        ),
        (
            // A single value where a list is expected is a list of one.
            "{ users(filter: { any: {} }) { id } }",
            error(
                INVALID,
                "OneOf input object `UserBy` must be given exactly one field, not 0",
                1,
                24,
            ),
        ),
        (
            r#"query ($f: Filter = { by: { id: 1, email: "x" } }) { users(filter: $f) { id } }"#,
            error(
                INVALID,
                "OneOf input object `UserBy` must be given exactly one field, not 2",
                1,
                27,
            ),
        ),
    ];
    for (query, expected) in cases {
        let response = router.post(query, json!({})).await;
        assert_eq!(errors(&response), [expected], "{query}");
        assert!(response.get("data").is_none(), "{response}");
    }
    assert_eq!(router.fetches(), 0, "nothing refused reaches the subgraph");

    let response = router
        .post(r#"{ user(by: { email: "a@b.c" }) { id name } }"#, json!({}))
        .await;
    assert_eq!(
        response,
        json!({ "data": { "user": { "id": "1", "name": "Ada" } } })
    );
}

#[tokio::test]
async fn a_variable_given_as_the_field_must_be_non_null() {
    let router = Harness::one_of().await;
    let response = router
        .post(
            "query ($id: ID) { user(by: { id: $id }) { id } }",
            json!({ "id": "1" }),
        )
        .await;
    assert_eq!(
        errors(&response),
        [error(
            INVALID,
            "variable `$id` of type `ID` cannot be used for OneOf input object field \
             `UserBy.id`: the variable must be non-null",
            1,
            34
        )]
    );
    // In a fragment, against each operation's own definition, reported once.
    let response = router
        .post(
            "query A($id: ID) { ...U } query B($id: ID) { ...U } \
             fragment U on Query { user(by: { id: $id }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(errors(&response).len(), 1, "{response}");
    assert_eq!(router.fetches(), 0);

    let response = router
        .post(
            "query ($id: ID!) { user(by: { id: $id }) { id } }",
            json!({ "id": "1" }),
        )
        .await;
    assert_eq!(response, json!({ "data": { "user": { "id": "1" } } }));
}

#[tokio::test]
async fn a_variable_value_gives_exactly_one_field_and_not_null_at_any_depth() {
    let router = Harness::one_of().await;
    let by = "query ($by: UserBy!) { user(by: $by) { id } }";
    let filter = "query ($f: Filter) { users(filter: $f) { id } }";
    let cases = [
        (
            by,
            json!({ "by": { "id": "1", "email": "a@b.c" } }),
            "variable `$by`: OneOf input object `UserBy` must be given exactly one field, not 2",
        ),
        (
            by,
            json!({ "by": {} }),
            "variable `$by`: OneOf input object `UserBy` must be given exactly one field, not 0",
        ),
        (
            by,
            json!({ "by": { "id": null } }),
            "variable `$by`: OneOf input object field `UserBy.id` must not be null",
        ),
        (
            filter,
            json!({ "f": { "by": { "id": null } } }),
            "variable `$f`, at `by`: OneOf input object field `UserBy.id` must not be null",
        ),
        (
            filter,
            json!({ "f": { "any": [{ "id": "1" }, { "id": "2", "email": "a@b.c" }] } }),
            "variable `$f`, at `any[1]`: OneOf input object `UserBy` must be given exactly one \
             field, not 2",
        ),
    ];
    for (query, variables, message) in cases {
        let response = router.post(query, variables.clone()).await;
        let found = errors(&response);
        assert_eq!(found.len(), 1, "{variables}: {response}");
        assert_eq!(
            (found[0].0.as_str(), found[0].1.as_str()),
            (INPUT, message),
            "{variables}"
        );
    }
    assert_eq!(router.fetches(), 0, "nothing refused reaches the subgraph");

    let response = router.post(by, json!({ "by": { "email": "a@b.c" } })).await;
    assert_eq!(response, json!({ "data": { "user": { "id": "1" } } }));
    let response = router
        .post(
            filter,
            json!({ "f": { "by": { "id": "1" }, "any": [{ "email": "a@b.c" }] } }),
        )
        .await;
    assert_eq!(response, json!({ "data": { "users": [] } }));
}
