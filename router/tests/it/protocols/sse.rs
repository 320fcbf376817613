//! GraphQL over SSE, distinct connections mode: the errors of a well-formed request are
//! reported on the accepted stream, as the protocol asks (a client such as graphql-sse takes
//! any other status for a network failure and retries); refusals of the request itself keep
//! their HTTP statuses.

use serde_json::Value;

use crate::edge::{Key, jwks_file, jwt_config};
use crate::subscriptions::{Streamed, setup};

#[tokio::test]
async fn distinct_connections_report_validation_errors_on_the_stream() {
    let key = Key::new("k1", 8);
    let jwks = jwks_file(&[&key]);
    let s = setup(&jwt_config(jwks.path(), "")).await;

    let mut sse =
        Streamed::open(&s.router, "text/event-stream", "subscription { nope }", &[]).await;
    assert_eq!(sse.response.status(), 200);
    assert_eq!(sse.response.headers()["content-type"], "text/event-stream");
    let body = sse.until("event: complete\ndata:\n\n").await;
    let data = body
        .strip_prefix("event: next\ndata: ")
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_else(|| panic!("a next event first: {body:?}"));
    let data: Value = serde_json::from_str(data).expect("JSON");
    assert_eq!(
        data["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(data.get("data").is_none(), "{data}");

    // A refused token is not a GraphQL error: it keeps its status.
    let refused = Streamed::open(
        &s.router,
        "text/event-stream",
        "subscription { nope }",
        &[("authorization", "Bearer not-a-token")],
    )
    .await;
    assert_eq!(refused.response.status(), 401);

    // Multipart clients read a JSON error response, as before.
    let multipart = Streamed::open(
        &s.router,
        "multipart/mixed;subscriptionSpec=1.0, application/json",
        "subscription { nope }",
        &[],
    )
    .await;
    assert_eq!(multipart.response.status(), 400);
}
