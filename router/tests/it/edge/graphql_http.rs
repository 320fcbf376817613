//! GraphQL over HTTP as the current draft reads it, through the router: the response media
//! type by `Accept` weights, the status of each kind of answer, `Allow` on 405, and production
//! mode's defaults.

use serde_json::{Value, json};

use super::{router, subgraph, supergraph};
use tessera_router::config::{GatewayConfig, Mode};
use tessera_router::server::RouterServer;

struct Reply {
    status: u16,
    content_type: String,
    allow: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("answer");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().expect("text").to_owned())
    };
    let (content_type, allow) = (header("content-type").unwrap_or_default(), header("allow"));
    Reply {
        status: response.status().as_u16(),
        content_type,
        allow,
        body: response.json().await.unwrap_or(Value::Null),
    }
}

fn post(router: &RouterServer, accept: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(body);
    match accept {
        Some(accept) => request.header("accept", accept),
        None => request,
    }
}

#[tokio::test]
async fn the_accept_header_picks_the_media_type_and_the_statuses() {
    let (router, _) = router("authorization:\n  mode: filter\n").await;
    let ok = json!({ "query": "{ public }" });
    let invalid = json!({ "query": "{ nope }" });
    // `me` is @authenticated: filtered out with an error, beside the rest of the data.
    let partial = json!({ "query": "{ public me { name } }" });
    const GRAPHQL: &str = "application/graphql-response+json";
    const JSON: &str = "application/json";
    let cases: &[(Option<&str>, &Value, u16, &str)] = &[
        (Some(GRAPHQL), &ok, 200, GRAPHQL),
        (Some(GRAPHQL), &invalid, 400, GRAPHQL),
        (Some(GRAPHQL), &partial, 294, GRAPHQL),
        (Some(JSON), &ok, 200, JSON),
        (Some(JSON), &invalid, 200, JSON),
        (Some(JSON), &partial, 200, JSON),
        // The weights decide, not the order.
        (
            Some("application/graphql-response+json;q=0.5, application/json"),
            &invalid,
            200,
            JSON,
        ),
        (
            Some("application/json;q=0.9, application/graphql-response+json"),
            &invalid,
            400,
            GRAPHQL,
        ),
        // No Accept, or only wildcards: the statuses of graphql-response+json, a success
        // labelled application/json for clients that know only that.
        (None, &ok, 200, JSON),
        (None, &invalid, 400, GRAPHQL),
        (None, &partial, 200, JSON),
        (Some("*/*"), &invalid, 400, GRAPHQL),
    ];
    for (accept, body, status, media) in cases {
        let reply = send(post(&router, *accept, body)).await;
        assert_eq!(
            (
                reply.status,
                reply.content_type.split(';').next().unwrap_or("")
            ),
            (*status, *media),
            "{accept:?} {body}: {}",
            reply.body
        );
        assert!(reply.content_type.contains("charset=utf-8"));
    }
    let reply = send(post(&router, Some(GRAPHQL), &partial)).await;
    assert_eq!(reply.body["data"]["public"], "hello");
    assert_eq!(
        reply.body["errors"][0]["extensions"]["code"],
        "UNAUTHORIZED_FIELD_OR_TYPE"
    );

    let reply = send(post(&router, Some("text/html"), &ok)).await;
    assert_eq!(reply.status, 406);
    let reply = send(post(&router, Some("application/json;q=0"), &ok)).await;
    assert_eq!(reply.status, 406);
}

#[tokio::test]
async fn a_405_says_which_methods_are_allowed() {
    let (subgraph, url) = subgraph().await;
    let sdl = format!("{}\ntype Mutation {{ touch: String }}", super::SDL);
    let router = super::serve(&super::supergraph_of(&url, &sdl), GatewayConfig::default())
        .await
        .expect("router");
    let reply = send(
        reqwest::Client::new()
            .get(format!(
                "{}/graphql?query=mutation%7Btouch%7D",
                router.url()
            ))
            .header("accept", "application/graphql-response+json")
            .header("x-tessera-csrf", "1"),
    )
    .await;
    assert_eq!(reply.status, 405, "{}", reply.body);
    assert_eq!(reply.allow.as_deref(), Some("POST"));
    let reply = send(
        reqwest::Client::new()
            .patch(format!("{}/graphql", router.url()))
            .header("accept", "application/graphql-response+json"),
    )
    .await;
    assert_eq!(reply.status, 405);
    assert!(
        reply
            .allow
            .is_some_and(|a| a.contains("GET") && a.contains("POST"))
    );
    assert_eq!(subgraph.count(), 0);
}

#[tokio::test]
async fn production_mode_turns_off_introspection_the_playground_and_the_plan() {
    let (subgraph, url) = subgraph().await;
    let sdl = supergraph(&url);
    let start = |config: GatewayConfig| {
        let sdl = sdl.clone();
        async move { super::serve(&sdl, config).await.expect("router") }
    };
    let development = start(GatewayConfig::default()).await;
    let production = start(GatewayConfig::parse_in("", Mode::Production).expect("config")).await;
    let http = reqwest::Client::new();
    let introspect = json!({ "query": "{ __schema { queryType { name } } }" });
    for (router, on) in [(&development, true), (&production, false)] {
        let reply = send(post(
            router,
            Some("application/graphql-response+json"),
            &introspect,
        ))
        .await;
        if on {
            assert_eq!(reply.body["data"]["__schema"]["queryType"]["name"], "Query");
        } else {
            assert_eq!(
                reply.body["errors"][0]["extensions"]["code"],
                "INTROSPECTION_DISABLED"
            );
        }
        let page = http
            .get(format!("{}/", router.url()))
            .header("accept", "text/html")
            .send()
            .await
            .expect("answer");
        assert_eq!(page.status().as_u16() == 200, on, "playground");
        let planned = send(
            post(
                router,
                Some("application/graphql-response+json"),
                &json!({ "query": "{ public }" }),
            )
            .header("x-tessera-query-plan", "1"),
        )
        .await;
        assert_eq!(
            planned.body["extensions"]["queryPlan"].is_object(),
            on,
            "{}",
            planned.body
        );
    }
    assert!(subgraph.count() >= 2);
}
