//! Router integration tests.

mod compose;
mod edge;
mod executor;
mod graphql;
mod limits;
mod names;
mod overrides;
mod planner;
mod planning;
mod playground;
mod protocols;
mod subscriptions;
mod supergraph;

/// Serves `app` on a free local port; returns its `/graphql` URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/graphql")
}

/// An HTTP client that shows the `Content-Encoding` it was sent instead of decoding it.
pub fn undecoding_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .no_zstd()
        .build()
        .expect("client")
}

/// The supergraph of one subgraph, `name` with `sdl` at `url`.
pub fn compose_one(name: &str, url: &str, sdl: &str) -> String {
    tessera_router::compose::compose(&[tessera_router::compose::SubgraphSdl {
        name: name.to_owned(),
        url: url.to_owned(),
        sdl: sdl.to_owned(),
    }])
    .expect("composes")
}

/// Starts a router on a free local port for `supergraph` with `config`.
pub async fn start_router(
    supergraph: &str,
    config: tessera_router::config::GatewayConfig,
) -> tessera_router::server::RouterServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    tessera_router::server::RouterServer::start(listener, supergraph, config)
        .await
        .expect("router")
}

/// POSTs `query` as `application/graphql-response+json`; the status and the JSON body.
pub async fn post_query(
    router: &tessera_router::server::RouterServer,
    query: &str,
) -> (u16, serde_json::Value) {
    post_request(router, &serde_json::json!({ "query": query })).await
}

/// POSTs the GraphQL request `body` (query, variables) as [`post_query`] does.
pub async fn post_request(
    router: &tessera_router::server::RouterServer,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", router.url()))
        .header("accept", "application/graphql-response+json")
        .json(body)
        .send()
        .await
        .expect("answer");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}
