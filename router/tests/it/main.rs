//! Router integration tests.

mod compose;
mod edge;
mod executor;
mod graphql;
mod limits;
mod names;
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

/// The supergraph of one subgraph, `name` with `sdl` at `url`.
pub fn compose_one(name: &str, url: &str, sdl: &str) -> String {
    tessera_router::compose::compose(&[tessera_router::compose::SubgraphSdl {
        name: name.to_owned(),
        url: url.to_owned(),
        sdl: sdl.to_owned(),
    }])
    .expect("composes")
}
