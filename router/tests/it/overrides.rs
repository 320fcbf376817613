//! Progressive `@override`: a labelled field is answered by the overriding subgraph while its
//! label is active (from the configuration, the request header, or a `percent` draw) and by
//! the subgraph it overrides otherwise, each plan cached per set of active labels.

use axum::Router;
use axum::routing::post;
use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@override"])"#;

/// A subgraph that answers every field asked of `Query` with its own `name`.
async fn answering(name: &'static str) -> String {
    let app = Router::new().route(
        "/graphql",
        post(move |body: axum::Json<Value>| async move {
            let query = body["query"].as_str().unwrap_or_default().to_owned();
            let mut data = serde_json::Map::new();
            for field in ["feed", "status"] {
                if query.contains(field) {
                    data.insert(field.to_owned(), json!(name));
                }
            }
            axum::Json(json!({ "data": data }))
        }),
    );
    crate::serve(app).await
}

/// `old` has `feed` and `status`; `new` takes `feed` over under `feed_label` and `status` under
/// `status_label`.
async fn supergraph(feed_label: &str, status_label: &str) -> String {
    let old = answering("old").await;
    let new = answering("new").await;
    compose(&[
        SubgraphSdl {
            name: "old".to_owned(),
            url: old,
            sdl: format!("{LINK}\ntype Query {{ feed: String status: String }}"),
        },
        SubgraphSdl {
            name: "new".to_owned(),
            url: new,
            sdl: format!(
                "{LINK}\ntype Query {{ feed: String @override(from: \"old\", label: \"{feed_label}\") \
                 status: String @override(from: \"old\", label: \"{status_label}\") }}"
            ),
        },
    ])
    .expect("composes")
}

fn config(yaml: &str) -> GatewayConfig {
    serde_yaml::from_str(yaml).expect("a configuration")
}

async fn ask(router: &tessera_router::server::RouterServer, header: Option<&str>) -> Value {
    ask_for(router, "{ feed status }", header).await
}

/// The data of `query`, with `header` as the labels header when given.
async fn ask_for(
    router: &tessera_router::server::RouterServer,
    query: &str,
    header: Option<&str>,
) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .json(&json!({ "query": query }));
    if let Some(labels) = header {
        request = request.header("x-override-labels", labels);
    }
    let body: Value = request
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn the_overridden_subgraph_answers_while_no_label_is_active() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    assert!(
        supergraph.contains("overrideLabel"),
        "composition keeps the label: {supergraph}"
    );
    let router = crate::start_router(&supergraph, GatewayConfig::default()).await;
    assert_eq!(
        ask(&router, None).await,
        json!({"feed": "old", "status": "old"})
    );
}

#[tokio::test]
async fn a_label_active_in_the_configuration_moves_only_its_fields() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    let router = crate::start_router(
        &supergraph,
        config("query_plan: {override_labels: {active: [use-new-feed]}}"),
    )
    .await;
    assert_eq!(
        ask(&router, None).await,
        json!({"feed": "new", "status": "old"})
    );
}

#[tokio::test]
async fn the_overridden_subgraph_may_carry_the_label_as_well() {
    // Apollo's composition marks the overridden subgraph's declaration with the label too.
    let supergraph = supergraph("use-new-feed", "use-new-status").await.replacen(
        "feed: String @join__field(graph: OLD)",
        "feed: String @join__field(graph: OLD, overrideLabel: \"use-new-feed\")",
        1,
    );
    assert!(
        supergraph.contains("graph: OLD, overrideLabel"),
        "{supergraph}"
    );
    for (active, feed) in [("[]", "old"), ("[use-new-feed]", "new")] {
        let router = crate::start_router(
            &supergraph,
            config(&format!(
                "query_plan: {{override_labels: {{active: {active}}}}}"
            )),
        )
        .await;
        assert_eq!(
            ask(&router, None).await,
            json!({"feed": feed, "status": "old"})
        );
    }
}

#[tokio::test]
async fn the_request_header_activates_labels_for_that_request_only() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    let router = crate::start_router(
        &supergraph,
        config("query_plan: {override_labels: {header: x-override-labels}}"),
    )
    .await;
    assert_eq!(
        ask(&router, Some("use-new-status, unknown-label")).await,
        json!({"feed": "old", "status": "new"})
    );
    assert_eq!(
        ask(&router, Some("use-new-feed,use-new-status")).await,
        json!({"feed": "new", "status": "new"})
    );
    // The plans above are cached per label set; this one is the plain plan again.
    assert_eq!(
        ask(&router, None).await,
        json!({"feed": "old", "status": "old"})
    );
}

#[tokio::test]
async fn the_header_counts_only_where_it_is_configured() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    let router = crate::start_router(&supergraph, GatewayConfig::default()).await;
    assert_eq!(
        ask(&router, Some("use-new-feed")).await,
        json!({"feed": "old", "status": "old"})
    );
}

#[tokio::test]
async fn percentage_labels_move_that_share_of_requests() {
    let half = supergraph("percent(50)", "percent(0)").await;
    let router = crate::start_router(&half, GatewayConfig::default()).await;
    let mut new = 0;
    let n = 400;
    for _ in 0..n {
        let data = ask(&router, None).await;
        assert_eq!(data["status"], json!("old"), "percent(0) never moves");
        if data["feed"] == json!("new") {
            new += 1;
        }
    }
    // Binomial(400, 0.5): outside 140..=260 with a probability below 1e-9.
    assert!((140..=260).contains(&new), "{new} of {n} moved");

    let all = supergraph("percent(100)", "percent(0)").await;
    let router = crate::start_router(&all, GatewayConfig::default()).await;
    for _ in 0..20 {
        assert_eq!(ask(&router, None).await["feed"], json!("new"));
    }
}

#[tokio::test]
async fn a_bad_header_name_is_refused_with_the_configuration() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let refused = tessera_router::server::RouterServer::start(
        listener,
        &supergraph,
        config("query_plan: {override_labels: {header: \"not a header\"}}"),
    )
    .await;
    let error = refused.err().expect("refused").to_string();
    assert!(error.contains("override_labels.header"), "{error}");
}

#[tokio::test]
async fn a_label_that_moves_no_field_of_the_operation_plans_nothing_new() {
    let supergraph = supergraph("use-new-feed", "use-new-status").await;
    let router = crate::start_router(
        &supergraph,
        config("query_plan: {override_labels: {header: x-override-labels}}"),
    )
    .await;
    let feed = async |labels: Option<&'static str>| {
        ask_for(&router, "{ feed }", labels).await["feed"].clone()
    };
    assert_eq!(feed(None).await, json!("old"));
    assert_eq!(feed(Some("use-new-status")).await, json!("old"));
    assert_eq!(router.engine().load().cached_plans(), 1);
    assert_eq!(
        feed(Some("use-new-feed,use-new-status")).await,
        json!("new")
    );
    assert_eq!(feed(Some("use-new-feed")).await, json!("new"));
    assert_eq!(router.engine().load().cached_plans(), 2);
}
