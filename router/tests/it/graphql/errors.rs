//! One error per mistake: what apollo-compiler derives from a selection, fragment or variable
//! it had to drop is not reported beside the mistake itself, and a syntax error is reported
//! alone. Each test states the whole error list.

use serde_json::json;

use super::{Harness, Reported, error, errors};

const PARSE: &str = "GRAPHQL_PARSE_FAILED";
const INVALID: &str = "GRAPHQL_VALIDATION_FAILED";

/// The `(code, message, location)` list for `query`.
async fn refused(router: &Harness, query: &str) -> Vec<Reported> {
    let response = router.post(query, json!({})).await;
    assert!(response.get("data").is_none(), "{response}");
    errors(&response)
}

#[tokio::test]
async fn an_unknown_field_does_not_also_leave_its_parent_without_a_selection() {
    let router = Harness::one_of().await;
    assert_eq!(
        refused(&router, "{ me { noSuchField } }").await,
        [error(
            INVALID,
            "type `User` does not have a field `noSuchField`",
            1,
            8
        )]
    );
    assert_eq!(
        refused(&router, "{ me { friends { nope other } } }").await,
        [
            error(INVALID, "type `User` does not have a field `nope`", 1, 18),
            error(INVALID, "type `User` does not have a field `other`", 1, 23),
        ]
    );
    assert_eq!(
        refused(&router, "{ me { name { first } } }").await,
        [error(
            INVALID,
            "field selection of scalar type `String` must not have subselections",
            1,
            8
        )]
    );
    assert_eq!(
        refused(&router, "{ me { ... on Nope { id } } }").await,
        [error(
            INVALID,
            "type condition `Nope` of inline fragment is not a type defined in the schema",
            1,
            15
        )]
    );
    // A selection set missing from the source is the mistake itself.
    assert_eq!(
        refused(&router, "{ me }").await,
        [error(
            INVALID,
            "interface, union and object types must have a subselection set",
            1,
            3
        )]
    );
    assert_eq!(router.fetches(), 0);
}

#[tokio::test]
async fn a_syntax_error_is_reported_once() {
    let router = Harness::one_of().await;
    assert_eq!(
        refused(&router, "{ me { id ").await,
        [error(
            PARSE,
            "syntax error: expected R_CURLY, got EOF",
            1,
            11
        )]
    );
    assert_eq!(
        refused(&router, "{ me { id } ) }").await,
        [error(PARSE, "syntax error: expected R_CURLY, got )", 1, 13)]
    );
}

#[tokio::test]
async fn a_variable_of_an_unknown_type_is_reported_once() {
    let router = Harness::one_of().await;
    let unknown = [error(
        INVALID,
        "cannot find type `Nope` in this document",
        1,
        8,
    )];
    for query in [
        "query ($x: Nope) { me { friends(first: $x) { id } } }",
        "query ($x: Nope!) { users(filter: { name: $x }) { id } }",
        "query ($x: Nope) { me @include(if: $x) { id } }",
        "query ($x: Nope) { me { ...F } } fragment F on User { friends(first: $x) { id } }",
    ] {
        assert_eq!(refused(&router, query).await, unknown, "{query}");
    }
    assert_eq!(
        refused(
            &router,
            "query ($x: User) { me { friends(first: $x) { id } } }"
        )
        .await,
        [error(
            INVALID,
            "`$x` variable must be of an input type",
            1,
            8
        )]
    );
    // Used where it does not fit, a known type is the mistake.
    assert_eq!(
        refused(
            &router,
            "query ($x: String) { me { friends(first: $x) { id } } }"
        )
        .await,
        [error(
            INVALID,
            "variable `$x` of type `String` cannot be used for argument `first` of type `Int`",
            1,
            35
        )]
    );
}

#[tokio::test]
async fn a_variable_used_in_a_field_that_was_dropped_is_not_also_unused() {
    let router = Harness::one_of().await;
    assert_eq!(
        refused(&router, "query ($v: Int) { me { id nope(a: $v) } }").await,
        [error(
            INVALID,
            "type `User` does not have a field `nope`",
            1,
            27
        )]
    );
    assert_eq!(
        refused(
            &router,
            "query ($v: Int) { me { id ...F } } fragment F on User { nope { friends(first: $v) { id } } }"
        )
        .await,
        [error(INVALID, "type `User` does not have a field `nope`", 1, 57)]
    );
    // A variable the source never uses is the mistake.
    assert_eq!(
        refused(&router, "query ($v: Int) { me { id } }").await,
        [error(INVALID, "unused variable: `$v`", 1, 8)]
    );
}

#[tokio::test]
async fn a_fragment_on_an_unknown_type_is_not_also_unknown() {
    let router = Harness::one_of().await;
    assert_eq!(
        refused(
            &router,
            "query ($v: Int) { me { id ...F } } fragment F on Nope { friends(first: $v) { id } }"
        )
        .await,
        [error(
            INVALID,
            "type condition `Nope` of fragment `F` is not a type defined in the schema",
            1,
            50
        )]
    );
    // A fragment the document does not define is the mistake.
    assert_eq!(
        refused(&router, "{ me { id ...Missing } }").await,
        [error(
            INVALID,
            "cannot find fragment `Missing` in this document",
            1,
            11
        )]
    );
}

#[tokio::test]
async fn an_unknown_argument_is_reported_once() {
    let router = Harness::one_of().await;
    assert_eq!(
        refused(
            &router,
            "query ($v: Int) { me { friends(first: 1, nope: $v) { id } } }"
        )
        .await,
        [error(
            INVALID,
            "the argument `nope` is not supported by `User.friends`",
            1,
            42
        )]
    );
    assert_eq!(
        refused(&router, r#"{ user(by: { id: "1" }, nope: 2) { id } }"#).await,
        [error(
            INVALID,
            "the argument `nope` is not supported by `Query.user`",
            1,
            25
        )]
    );
}
