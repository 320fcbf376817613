//! The router in front of the platform's subgraphs: one operation spanning several subgraphs,
//! the caller's token forwarded, request errors per GraphQL over HTTP, and a subgraph that
//! stops answering.

use serde_json::{Value, json};
use tessera_tests::TestPlatform;

async fn post(
    p: &TestPlatform,
    body: &'static str,
    content_type: &str,
    accept: &str,
) -> (u16, Value) {
    let r = p
        .http
        .post(p.url("router", "/graphql"))
        .header("content-type", content_type)
        .header("accept", accept)
        .body(body)
        .send()
        .await
        .expect("the router answers");
    (r.status().as_u16(), r.json().await.expect("a JSON body"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn joins_identity_and_auth_fields_in_one_operation() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p
        .registered("ada@example.com", "correct horse battery", "Ada")
        .await;
    let r = p
        .query(
            "router",
            "{ me { id displayName email } sessions { id } }",
            Some(&ada.access),
        )
        .await
        .ok();
    assert_eq!(r.data("me.id"), &json!(ada.user_id));
    assert_eq!(r.data("me.displayName"), &json!("Ada"));
    assert_eq!(r.data("me.email"), &json!("ada@example.com"));
    assert_eq!(r.body["data"]["sessions"].as_array().map(Vec::len), Some(1));

    // An entity jump: login comes from auth, the user's profile fields from identity.
    let login = p
        .gql(
            "router",
            "mutation($i: LoginInput!) { login(input: $i) { user { id displayName } } }",
            json!({ "i": { "email": "ada@example.com", "password": "correct horse battery" } }),
            None,
        )
        .await
        .ok();
    assert_eq!(login.data("login.user.displayName"), &json!("Ada"));
    p.shutdown().await;
}

#[tokio::test]
async fn refuses_a_bad_token_at_the_router_before_any_subgraph() {
    let p = TestPlatform::start().await.expect("platform");
    let r = p
        .query("router", "{ me { id } }", Some("not-a-token"))
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(code(&r.body), "TOKEN_MALFORMED");
    assert!(r.body["errors"][0]["extensions"].get("service").is_none());
    p.shutdown().await;
}

#[tokio::test]
async fn opens_scoped_fields_for_real_tokens_that_carry_the_scope() {
    let p = TestPlatform::builder()
        .admin("root@example.com")
        .start()
        .await
        .expect("platform");
    let user = p
        .registered("ann@example.com", "correct horse battery", "Ann")
        .await;
    let admin = p
        .registered("root@example.com", "correct horse battery", "Root")
        .await;
    let query = "{ me { id } users(first: 5) { edges { node { id } } } }";

    // `users` is @requiresScopes(users:read) in the supergraph: the router removes it for a
    // caller without the scope, and the non-null field nulls the whole response.
    let r = p.query("router", query, Some(&user.access)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"], Value::Null, "{}", r.body);
    assert_eq!(code(&r.body), "UNAUTHORIZED_FIELD_OR_TYPE");
    assert_eq!(r.body["errors"][0]["path"], json!(["users"]));

    // The admin's token from the auth service carries users:read.
    let r = p.query("router", query, Some(&admin.access)).await.ok();
    assert_eq!(r.data("me.id"), &json!(admin.user_id));
    let ids: Vec<&Value> = r.body["data"]["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"]["id"])
        .collect();
    assert!(ids.contains(&&json!(user.user_id)), "{}", r.body);

    // Anonymous callers get the same refusal, and public fields still work.
    let r = p
        .query("router", "{ users { pageInfo { hasNextPage } } }", None)
        .await;
    assert_eq!(code(&r.body), "UNAUTHORIZED_FIELD_OR_TYPE", "{}", r.body);
    p.shutdown().await;
}

#[tokio::test]
async fn request_errors_get_their_codes_and_statuses() {
    let p = TestPlatform::start().await.expect("platform");
    let json_only = "application/json";
    let graphql_response = "application/graphql-response+json";

    let (status, body) = post(&p, "{not json", json_only, json_only).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = post(&p, r#"{"variables":{}}"#, json_only, json_only).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"));
    let (status, body) = post(&p, r#"{"query":"{ me { id } }"}"#, "text/plain", json_only).await;
    assert_eq!((status, code(&body)), (415, "UNSUPPORTED_MEDIA_TYPE"));
    let (status, body) = post(&p, r#"{"query":"{ me { id } }"}"#, json_only, "text/csv").await;
    assert_eq!((status, code(&body)), (406, "NOT_ACCEPTABLE"));

    // Errors in a well-formed request: 200 for application/json, 400 for the new media type.
    for (accept, expected) in [(json_only, 200), (graphql_response, 400)] {
        let (status, body) = post(&p, r#"{"query":"{ me { id "}"#, json_only, accept).await;
        assert_eq!((status, code(&body)), (expected, "GRAPHQL_PARSE_FAILED"));
        assert!(
            body["errors"][0]["locations"][0]["line"].is_number(),
            "{body}"
        );
        assert!(
            body.get("data").is_none(),
            "request errors have no data: {body}"
        );

        let (status, body) =
            post(&p, r#"{"query":"{ me { shoeSize } }"}"#, json_only, accept).await;
        assert_eq!(
            (status, code(&body)),
            (expected, "GRAPHQL_VALIDATION_FAILED")
        );

        let (status, body) = post(
            &p,
            r#"{"query":"query($id: ID!) { user(id: $id) { id } }","variables":{"id":{"no":1}}}"#,
            json_only,
            accept,
        )
        .await;
        assert_eq!((status, code(&body)), (expected, "BAD_USER_INPUT"));

        let (status, body) = post(
            &p,
            r#"{"query":"query A { me { id } } query B { sessions { id } }"}"#,
            json_only,
            accept,
        )
        .await;
        assert_eq!((status, code(&body)), (expected, "OPERATION_NAME_REQUIRED"));

        let (status, body) = post(
            &p,
            r#"{"query":"query A { me { id } }","operationName":"C"}"#,
            json_only,
            accept,
        )
        .await;
        assert_eq!((status, code(&body)), (expected, "UNKNOWN_OPERATION_NAME"));
    }

    // Mutations never run over GET.
    let r = p
        .http
        .get(p.url("router", "/graphql"))
        .query(&[("query", "mutation { logoutAll }")])
        .header("accept", json_only)
        .header("x-tessera-csrf", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 405);
    p.shutdown().await;
}

#[tokio::test]
async fn get_requests_run_queries_with_variables() {
    let p = TestPlatform::start().await.expect("platform");
    let r = p
        .http
        .get(p.url("router", "/graphql"))
        .query(&[
            (
                "query",
                "query Q($id: ID!) { user(id: $id) { id } __typename }",
            ),
            (
                "variables",
                r#"{"id":"00000000-0000-0000-0000-000000000000"}"#,
            ),
            ("operationName", "Q"),
        ])
        .header("accept", "application/graphql-response+json")
        // A GET is a simple request: only a header a cross-site page cannot set lets it run.
        .header("x-tessera-csrf", "1")
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("application/graphql-response+json")
    );
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["data"]["__typename"], json!("Query"));
    p.shutdown().await;
}

#[tokio::test]
async fn introspection_is_answered_by_the_router_and_the_plan_on_request() {
    let p = TestPlatform::start().await.expect("platform");
    let r = p
        .http
        .post(p.url("router", "/graphql"))
        .header("x-tessera-query-plan", "1")
        .json(&json!({ "query": "{ __schema { queryType { name } } __type(name: \"User\") { fields { name } } me { id } }" }))
        .send()
        .await
        .expect("answer");
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"],
        json!("Query")
    );
    let fields: Vec<&str> = body["data"]["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(fields.contains(&"displayName"), "{fields:?}");
    // No join__ or link__ element leaks into the API schema.
    let all = p
        .query(
            "router",
            "{ __schema { types { name } directives { name } } }",
            None,
        )
        .await
        .ok();
    let text = all.body.to_string();
    assert!(
        !text.contains("join__") && !text.contains("link__"),
        "{text}"
    );
    let plan = body["extensions"]["queryPlanText"]
        .as_str()
        .expect("a plan");
    assert!(plan.contains("Fetch(service: \"identity\")"), "{plan}");
    p.shutdown().await;
}

#[tokio::test]
async fn a_subgraph_that_stops_answering_gives_partial_data_and_an_error() {
    let p = TestPlatform::start().await.expect("platform");
    let ada = p
        .registered("ada@example.com", "correct horse battery", "Ada")
        .await;
    // Stop every subgraph; the router stays up.
    p.platform
        .tasks
        .shutdown(std::time::Duration::from_secs(10))
        .await;
    let r = p
        .query("router", "{ me { id } sessions { id } }", Some(&ada.access))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert!(
        codes.iter().all(|c| *c == "SUBGRAPH_REQUEST_FAILED"),
        "{codes:?}"
    );
    // `sessions` is non-null, so its failure nulls the whole data; `me` alone would be null.
    assert_eq!(r.body["data"], Value::Null);
    p.shutdown().await;
}
