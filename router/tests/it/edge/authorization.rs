//! `@authenticated`, `@requiresScopes` and `@policy` from the supergraph: denied fields are
//! never asked of a subgraph; they come back null with an error at their path (filter mode),
//! or the request is refused (reject mode).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::post as route_post;
use serde_json::{Value, json};

use super::{Key, claims, jwks_file, jwt_config, post, post_body, router};

fn errors_at(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| {
                    (
                        e["path"]
                            .as_array()
                            .map(|p| {
                                p.iter()
                                    .map(|s| s.as_str().unwrap_or_default())
                                    .collect::<Vec<_>>()
                                    .join(".")
                            })
                            .unwrap_or_default(),
                        e["extensions"]["code"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

const QUERY: &str = "{ public me { id } users { id name email } vault { code } }";

#[tokio::test]
async fn removes_what_an_anonymous_caller_may_not_see_and_reports_each_path() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "")).await;
    let answer = post(&router, QUERY, &[]).await;
    // Data beside errors: a partial success.
    assert_eq!(answer.status, 294, "{}", answer.body);
    assert_eq!(
        answer.body["data"],
        json!({ "public": "hello", "me": null, "users": null, "vault": null })
    );
    assert_eq!(
        errors_at(&answer.body),
        [
            ("me".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned()),
            ("users".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned()),
            ("vault".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned()),
        ]
    );
    let asked = &subgraph.requests()[0].query;
    assert!(asked.contains("public"), "{asked}");
    for denied in ["me", "users", "vault"] {
        assert!(!asked.contains(denied), "{denied} was asked for: {asked}");
    }
}

#[tokio::test]
async fn lets_scopes_open_fields_and_filters_nested_ones_per_caller() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "")).await;

    // Authenticated without scopes: `me` and `vault` open, `users` stays closed.
    let plain = format!("Bearer {}", key.sign(&claims("u1", "")));
    let answer = post(&router, QUERY, &[("authorization", &plain)]).await;
    assert_eq!(
        answer.body["data"]["me"],
        json!({ "id": "1" }),
        "{}",
        answer.body
    );
    assert_eq!(answer.body["data"]["vault"], json!({ "code": "1234" }));
    assert_eq!(answer.body["data"]["users"], Value::Null);
    assert_eq!(
        errors_at(&answer.body),
        [("users".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned())]
    );

    // `users:read` opens `users`, and also `email` (one of its two alternatives).
    let reader = format!("Bearer {}", key.sign(&claims("u2", "users:read")));
    let answer = post(&router, QUERY, &[("authorization", &reader)]).await;
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    assert_eq!(
        answer.body["data"]["users"][1]["email"],
        json!("bo@example.com")
    );

    // `email:read` alone opens `email` but not `users`; a nested denial nulls just the field.
    let query = "{ me { id email } }";
    let answer = post(&router, query, &[("authorization", &plain)]).await;
    assert_eq!(
        answer.body["data"]["me"],
        json!({ "id": "1", "email": null }),
        "{}",
        answer.body
    );
    assert_eq!(
        errors_at(&answer.body),
        [(
            "me.email".to_owned(),
            "UNAUTHORIZED_FIELD_OR_TYPE".to_owned()
        )]
    );
    let emails = format!("Bearer {}", key.sign(&claims("u3", "email:read")));
    let answer = post(&router, query, &[("authorization", &emails)]).await;
    assert!(answer.body.get("errors").is_none(), "{}", answer.body);
    let last = subgraph.requests().last().expect("a request").query.clone();
    assert!(last.contains("email"), "{last}");
}

#[tokio::test]
async fn a_skipped_guarded_field_is_not_denied_and_an_included_one_is() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let (router, subgraph) = router(&jwt_config(jwks.path(), "")).await;
    let query = "query($me: Boolean!, $noVault: Boolean!) { public me @include(if: $me) { id } ... @skip(if: $noVault) { vault { code } } }";
    let ask = |me: bool, no_vault: bool| {
        let body = json!({ "query": query, "variables": { "me": me, "noVault": no_vault } });
        let router = &router;
        async move { post_body(router, &body, &[]).await }
    };

    // Both guarded selections skipped: nothing denied, nothing reported.
    let answer = ask(false, true).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!({ "data": { "public": "hello" } }));

    // One of them included: that one is denied, the other is still left out.
    let answer = ask(true, true).await;
    assert_eq!(
        answer.body["data"],
        json!({ "public": "hello", "me": null }),
        "{}",
        answer.body
    );
    assert_eq!(
        errors_at(&answer.body),
        [("me".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned())]
    );
    let answer = ask(false, false).await;
    assert_eq!(
        answer.body["data"],
        json!({ "public": "hello", "vault": null }),
        "{}",
        answer.body
    );
    assert_eq!(
        errors_at(&answer.body),
        [("vault".to_owned(), "UNAUTHORIZED_FIELD_OR_TYPE".to_owned())]
    );
    // A denied field is never asked for, whatever its condition: the plan filtered for the
    // caller serves every value of the variables.
    assert_eq!(subgraph.count(), 3);
    for seen in subgraph.requests() {
        assert!(seen.query.contains("public"), "{}", seen.query);
        assert!(
            !seen.query.contains("vault") && !seen.query.contains("me@"),
            "{}",
            seen.query
        );
    }
    router.shutdown().await;
}

#[tokio::test]
async fn rejects_the_whole_request_in_reject_mode() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let config = jwt_config(jwks.path(), "authorization:\n  mode: reject\n");
    let (router, subgraph) = router(&config).await;

    let answer = post(&router, QUERY, &[]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (401, "UNAUTHORIZED_FIELD_OR_TYPE"),
        "{}",
        answer.body
    );
    assert!(answer.body.get("data").is_none());
    assert_eq!(errors_at(&answer.body).len(), 3);

    let plain = format!("Bearer {}", key.sign(&claims("u1", "")));
    let answer = post(&router, QUERY, &[("authorization", &plain)]).await;
    assert_eq!(
        (answer.status, answer.code()),
        (403, "UNAUTHORIZED_FIELD_OR_TYPE"),
        "{}",
        answer.body
    );
    assert_eq!(subgraph.count(), 0, "no subgraph was called");

    let answer = post(
        &router,
        "{ public me { id } }",
        &[("authorization", &plain)],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn asks_the_policy_hook_and_denies_when_it_fails() {
    let key = Key::new("k1", 1);
    let jwks = jwks_file(&[&key]);
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    // Allows `admin` for the subject `boss` only.
    let hook = Router::new().route(
        "/policies",
        route_post(move |axum::Json(body): axum::Json<Value>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let allowed = if body["claims"]["sub"] == json!("boss") {
                body["policies"].clone()
            } else {
                json!([])
            };
            async move { axum::Json(json!({ "allowed": allowed })) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/policies", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, hook).await });

    let config = jwt_config(
        jwks.path(),
        &format!("authorization:\n  policy_hook:\n    url: {url}\n"),
    );
    let (router, _) = router(&config).await;
    let boss = format!("Bearer {}", key.sign(&claims("boss", "")));
    let answer = post(&router, "{ secret }", &[("authorization", &boss)]).await;
    assert_eq!(
        answer.body["data"]["secret"],
        json!("42"),
        "{}",
        answer.body
    );
    let clerk = format!("Bearer {}", key.sign(&claims("clerk", "")));
    let answer = post(&router, "{ secret }", &[("authorization", &clerk)]).await;
    assert_eq!(
        answer.body["data"]["secret"],
        Value::Null,
        "{}",
        answer.body
    );
    assert_eq!(answer.code(), "UNAUTHORIZED_FIELD_OR_TYPE");
    assert_eq!(asked.load(Ordering::SeqCst), 2);
    // A request whose variables skip every guarded selection asks the hook nothing.
    let answer = post(
        &router,
        "query($s: Boolean = false) { public secret @include(if: $s) }",
        &[("authorization", &clerk)],
    )
    .await;
    assert_eq!(
        answer.body["data"],
        json!({ "public": "hello" }),
        "{}",
        answer.body
    );
    assert_eq!(asked.load(Ordering::SeqCst), 2);

    // A hook that is down denies.
    let config = jwt_config(
        jwks.path(),
        "authorization:\n  policy_hook:\n    url: http://127.0.0.1:1/policies\n    timeout_ms: 200\n",
    );
    let (down, _) = super::router(&config).await;
    let answer = post(&down, "{ secret public }", &[("authorization", &boss)]).await;
    assert_eq!(
        answer.body["data"],
        json!({ "secret": null, "public": "hello" }),
        "{}",
        answer.body
    );
}
