//! Header rules, through the router, over two subgraphs: what each subgraph request carries
//! (propagate, rename, default, insert, remove, per subgraph or for all, and the headers no
//! rule may touch), and what the subgraph responses give the client (propagated by rule, and
//! `Cache-Control` merged as the most restrictive).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::HeaderMap;
use serde_json::json;
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;

/// A subgraph answering `{ <field> }`, recording each request's headers and answering with
/// the headers it is told to.
#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<HeaderMap>>>,
    answer_with: Arc<Mutex<Vec<(&'static str, &'static str)>>>,
}

impl Recorder {
    async fn serve(&self, field: &'static str) -> String {
        let me = self.clone();
        let app = Router::new().route(
            "/graphql",
            axum::routing::post(move |headers: HeaderMap| {
                let me = me.clone();
                async move {
                    me.seen.lock().expect("lock").push(headers);
                    let mut response = axum::response::Response::new(axum::body::Body::from(
                        json!({ "data": { field: field } }).to_string(),
                    ));
                    let out = response.headers_mut();
                    out.insert("content-type", "application/json".parse().expect("value"));
                    for (name, value) in me.answer_with.lock().expect("lock").iter() {
                        out.append(*name, value.parse().expect("value"));
                    }
                    response
                }
            }),
        );
        crate::serve(app).await
    }

    fn last(&self) -> HeaderMap {
        self.seen
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .expect("a request")
    }

    fn answer_with(&self, headers: &[(&'static str, &'static str)]) {
        *self.answer_with.lock().expect("lock") = headers.to_vec();
    }
}

struct Two {
    router: RouterServer,
    a: Recorder,
    b: Recorder,
}

async fn two(config: &str) -> Result<Two, String> {
    let (a, b) = (Recorder::default(), Recorder::default());
    let supergraph = tessera_router::compose::compose(&[
        tessera_router::compose::SubgraphSdl {
            name: "a".into(),
            url: a.serve("a").await,
            sdl: "type Query { a: String }".into(),
        },
        tessera_router::compose::SubgraphSdl {
            name: "b".into(),
            url: b.serve("b").await,
            sdl: "type Query { b: String }".into(),
        },
    ])
    .expect("composes");
    let config = GatewayConfig::parse(config).map_err(|e| format!("{e:#}"))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let router = RouterServer::start(listener, &supergraph, config)
        .await
        .map_err(|e| format!("{e:#}"))?;
    Ok(Two { router, a, b })
}

async fn ask(router: &RouterServer, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(&json!({ "query": "{ a b }" }));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("answer");
    assert_eq!(response.status(), 200);
    response
}

fn values(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("text").to_owned())
        .collect()
}

#[tokio::test]
async fn request_rules_propagate_rename_default_insert_and_remove_per_subgraph() {
    let t = two(r#"
headers:
  propagate: [x-plain]
  all:
    request:
      - propagate: { named: x-tenant, rename: x-tenant-id, default: none }
      - propagate: { matching: "^x-trace-" }
      - insert: { name: x-router, value: tessera }
      - propagate: { named: [x-drop, x-keep] }
      - remove: { named: x-drop }
  subgraphs:
    b:
      request:
        - insert: { name: x-only-b, value: "yes" }
        - remove: { matching: "^x-trace-" }
"#)
    .await
    .expect("router");
    ask(
        &t.router,
        &[
            ("x-plain", "1"),
            ("x-tenant", "acme"),
            ("x-trace-a", "t1"),
            ("x-trace-b", "t2"),
            ("x-drop", "d"),
            ("x-keep", "k"),
            ("x-other", "never asked for"),
        ],
    )
    .await;
    let a = t.a.last();
    assert_eq!(values(&a, "x-plain"), ["1"]);
    assert_eq!(values(&a, "x-tenant-id"), ["acme"]);
    assert!(a.get("x-tenant").is_none(), "renamed, not copied");
    assert_eq!(values(&a, "x-trace-a"), ["t1"]);
    assert_eq!(values(&a, "x-trace-b"), ["t2"]);
    assert_eq!(values(&a, "x-router"), ["tessera"]);
    assert_eq!(values(&a, "x-keep"), ["k"]);
    assert!(a.get("x-drop").is_none());
    assert!(a.get("x-other").is_none());
    assert!(a.get("x-only-b").is_none());

    let b = t.b.last();
    assert_eq!(values(&b, "x-only-b"), ["yes"]);
    assert!(b.get("x-trace-a").is_none(), "b's own rule removed them");
    assert_eq!(values(&b, "x-router"), ["tessera"]);

    // Without the client's header, its default.
    ask(&t.router, &[]).await;
    assert_eq!(values(&t.a.last(), "x-tenant-id"), ["none"]);
}

#[tokio::test]
async fn no_rule_copies_what_the_router_sets_itself() {
    let t = two("headers:\n  all:\n    request:\n      - propagate: { matching: \".*\" }\n")
        .await
        .expect("router");
    ask(
        &t.router,
        &[
            ("accept", "application/json, text/html;q=0.5"),
            ("x-visible", "1"),
            ("te", "trailers"),
            ("accept-encoding", "identity"),
            ("proxy-authorization", "Basic c2VjcmV0"),
        ],
    )
    .await;
    let a = t.a.last();
    assert_eq!(values(&a, "x-visible"), ["1"]);
    assert_eq!(values(&a, "content-type"), ["application/json"]);
    assert_eq!(
        values(&a, "accept"),
        ["application/graphql-response+json, application/json"]
    );
    assert!(a.get("te").is_none());
    assert!(a.get("proxy-authorization").is_none());
    assert_ne!(values(&a, "accept-encoding"), ["identity"]);
    let host = values(&a, "host");
    assert_eq!(host.len(), 1);
    assert!(host[0].starts_with("127.0.0.1:"), "{host:?}");

    for (rule, name) in [
        ("propagate: { named: content-type }", "content-type"),
        ("propagate: { named: [x-ok, accept] }", "accept"),
        ("insert: { name: host, value: evil }", "host"),
        ("insert: { name: Connection, value: close }", "connection"),
        (
            "propagate: { named: x-a, rename: content-length }",
            "content-length",
        ),
        (
            "propagate: { named: transfer-encoding }",
            "transfer-encoding",
        ),
    ] {
        let refused = two(&format!("headers:\n  all:\n    request:\n      - {rule}\n"))
            .await
            .err()
            .unwrap_or_else(|| panic!("{rule} is refused"));
        assert!(refused.contains(name), "{rule}: {refused}");
    }
    let refused = two("headers:\n  propagate: [content-type]\n").await.err();
    assert!(refused.is_some_and(|e| e.contains("content-type")));
    let refused = two("headers:\n  subgraphs:\n    nope:\n      request: []\n")
        .await
        .err();
    assert!(refused.is_some_and(|e| e.contains("nope")));
}

#[tokio::test]
async fn response_rules_take_subgraph_headers_to_the_client() {
    let t = two(r#"
headers:
  all:
    response:
      - propagate: { named: set-cookie, algorithm: append }
      - propagate: { named: x-version, algorithm: first }
  subgraphs:
    b:
      response:
        - propagate: { named: x-b-debug, rename: x-debug }
        - insert: { name: x-served-by-b, value: "1" }
"#)
    .await
    .expect("router");
    t.a.answer_with(&[
        ("set-cookie", "a=1"),
        ("x-version", "a"),
        ("x-b-debug", "from a"),
        ("x-secret", "s"),
    ]);
    t.b.answer_with(&[
        ("set-cookie", "b=2"),
        ("x-version", "b"),
        ("x-b-debug", "from b"),
    ]);
    let response = ask(&t.router, &[]).await;
    let headers = response.headers().clone();
    let mut cookies = values(&headers, "set-cookie");
    cookies.sort();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(values(&headers, "x-version").len(), 1);
    assert_eq!(
        values(&headers, "x-debug"),
        ["from b"],
        "only b's rule copies it"
    );
    assert!(headers.get("x-b-debug").is_none());
    assert_eq!(values(&headers, "x-served-by-b"), ["1"]);
    assert!(headers.get("x-secret").is_none(), "no rule, not copied");
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["data"], json!({ "a": "a", "b": "b" }));
}

#[tokio::test]
async fn cache_control_is_the_most_restrictive_of_the_subgraphs() {
    let t = two("{}").await.expect("router");
    let cache_control = |response: &reqwest::Response| {
        response
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().expect("text").to_owned())
    };
    assert_eq!(cache_control(&ask(&t.router, &[]).await), None);

    t.a.answer_with(&[("cache-control", "public, max-age=60")]);
    t.b.answer_with(&[("cache-control", "public, max-age=30")]);
    assert_eq!(
        cache_control(&ask(&t.router, &[]).await).as_deref(),
        Some("public, max-age=30")
    );
    t.b.answer_with(&[("cache-control", "private, max-age=300")]);
    assert_eq!(
        cache_control(&ask(&t.router, &[]).await).as_deref(),
        Some("private, max-age=60")
    );
    t.b.answer_with(&[]);
    assert_eq!(
        cache_control(&ask(&t.router, &[]).await).as_deref(),
        Some("no-store"),
        "a part without Cache-Control makes the whole uncacheable"
    );
    t.b.answer_with(&[("cache-control", "no-store")]);
    assert_eq!(
        cache_control(&ask(&t.router, &[]).await).as_deref(),
        Some("no-store")
    );

    let off = two("headers:\n  merge_cache_control: false\n")
        .await
        .expect("router");
    off.a
        .answer_with(&[("cache-control", "public, max-age=60")]);
    off.b
        .answer_with(&[("cache-control", "public, max-age=60")]);
    assert_eq!(cache_control(&ask(&off.router, &[]).await), None);
}
