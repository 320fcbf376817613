//! A federation under test: small async-graphql subgraphs served in-process on free ports,
//! composed into a supergraph and put behind the real router. Every request a subgraph
//! receives is recorded, in arrival order across the whole set, so tests can count fetches,
//! read the representations an `_entities` call carried, and check the order of mutations.

use std::sync::{Arc, Mutex, MutexGuard};

use async_graphql::{Executor, ObjectType, SDLExportOptions, Schema, SubscriptionType};
use async_graphql_axum::GraphQL;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{post, post_service};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_router::compose::{SubgraphSdl, compose};
use tessera_router::config::GatewayConfig;
use tessera_router::server::RouterServer;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The request header that makes the router return its query plan.
pub const PLAN_HEADER: &str = "x-tessera-query-plan";

/// The GraphQL-over-HTTP response media type; with it, request errors get 4xx statuses.
pub const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// Builds a schema the way a federated subgraph serves it.
pub fn schema<Q, M>(query: Q, mutation: M) -> Schema<Q, M, async_graphql::EmptySubscription>
where
    Q: ObjectType + 'static,
    M: ObjectType + 'static,
{
    Schema::build(query, mutation, async_graphql::EmptySubscription)
        .enable_federation()
        .finish()
}

/// How a subgraph answers.
enum Behaviour {
    Serve(Router),
    /// Nothing listens where the supergraph says it does.
    Down,
    /// Answers every request with `200 OK` and a body that is not JSON.
    Garbage,
}

/// One subgraph of a set: its name, its SDL, and how it answers.
pub struct Subgraph {
    name: String,
    sdl: String,
    behaviour: Behaviour,
}

impl Subgraph {
    /// `schema`, served over HTTP; its SDL is what `_service { sdl }` returns.
    pub fn new<Q, M, S>(name: &str, schema: Schema<Q, M, S>) -> Self
    where
        Q: ObjectType + 'static,
        M: ObjectType + 'static,
        S: SubscriptionType + 'static,
    {
        let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
        Self::serving(
            name,
            sdl,
            Router::new().route("/graphql", post_service(GraphQL::new(schema))),
        )
    }

    fn serving(name: &str, sdl: String, app: Router) -> Self {
        assert!(
            sdl.contains("@link(") && sdl.contains("specs.apollo.dev/federation/v2"),
            "subgraph {name} must export a Federation v2 SDL:\n{sdl}"
        );
        Self {
            name: name.to_owned(),
            sdl,
            behaviour: Behaviour::Serve(app),
        }
    }

    /// A query-only subgraph.
    pub fn query<Q: ObjectType + 'static>(name: &str, query: Q) -> Self {
        Self::new(name, schema(query, async_graphql::EmptyMutation))
    }

    /// Resolves each representation of an `_entities` request on its own, so that errors
    /// raised under `_entities` carry the representation's index in their path, as the
    /// subgraph specification asks (async-graphql 7 leaves the index out).
    pub fn indexing_entity_errors<Q, M, S>(name: &str, schema: Schema<Q, M, S>) -> Self
    where
        Q: ObjectType + 'static,
        M: ObjectType + 'static,
        S: SubscriptionType + 'static,
    {
        let sdl = schema.sdl_with_options(SDLExportOptions::new().federation().compose_directive());
        let app = Router::new()
            .route("/graphql", post(entities_one_by_one::<Schema<Q, M, S>>))
            .with_state(schema);
        Self::serving(name, sdl, app)
    }

    /// Keeps the SDL but leaves the subgraph's port closed.
    pub fn down(mut self) -> Self {
        self.behaviour = Behaviour::Down;
        self
    }

    /// Keeps the SDL but answers every request with a non-JSON `200 OK`.
    pub fn answering_garbage(mut self) -> Self {
        self.behaviour = Behaviour::Garbage;
        self
    }

    pub fn sdl(&self) -> &str {
        &self.sdl
    }
}

async fn entities_one_by_one<E: Executor>(
    State(executor): State<E>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    let run = |body: Value| {
        let executor = executor.clone();
        async move {
            match serde_json::from_value::<async_graphql::Request>(body) {
                Ok(request) => {
                    serde_json::to_value(executor.execute(request).await).unwrap_or(Value::Null)
                }
                Err(e) => json!({ "errors": [ { "message": e.to_string() } ] }),
            }
        }
    };
    let Some(representations) = body["variables"]["representations"].as_array().cloned() else {
        return axum::Json(run(body).await);
    };
    let mut entities = Vec::new();
    let mut errors = Vec::new();
    for (index, representation) in representations.into_iter().enumerate() {
        let mut one = body.clone();
        one["variables"]["representations"] = json!([representation]);
        let mut response = run(one).await;
        entities.push(response["data"]["_entities"][0].take());
        for mut error in response["errors"].as_array().cloned().unwrap_or_default() {
            if let Some(path) = error["path"].as_array_mut()
                && path.first().and_then(Value::as_str) == Some("_entities")
            {
                if path.get(1).is_some_and(Value::is_number) {
                    path[1] = json!(index);
                } else {
                    path.insert(1, json!(index));
                }
            }
            errors.push(error);
        }
    }
    let mut response = json!({ "data": { "_entities": entities } });
    if !errors.is_empty() {
        response["errors"] = Value::Array(errors);
    }
    axum::Json(response)
}

/// One request a subgraph received.
#[derive(Debug, Clone)]
pub struct Received {
    pub subgraph: String,
    /// The JSON body: `query`, `variables`, ...
    pub body: Value,
}

impl Received {
    pub fn query(&self) -> &str {
        self.body["query"].as_str().unwrap_or_default()
    }

    /// The representations of an `_entities` call (empty for other requests).
    pub fn representations(&self) -> Vec<Value> {
        self.body["variables"]["representations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

#[derive(Clone)]
struct Recorder {
    subgraph: String,
    log: Arc<Mutex<Vec<Received>>>,
}

async fn record(State(recorder): State<Recorder>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    recorder
        .log
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Received {
            subgraph: recorder.subgraph.clone(),
            body,
        });
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// A router's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    /// The response body, without `extensions.queryPlan` and `extensions.queryPlanText`.
    pub body: Value,
    /// The plan as text, when it was asked for.
    pub plan: Option<String>,
    /// The plan as JSON, when it was asked for.
    pub plan_json: Option<Value>,
}

/// A request to the router, built up before it is sent.
pub struct Call<'a> {
    federation: &'a Federation,
    body: Value,
    accept: &'static str,
    plan: bool,
}

impl Call<'_> {
    pub fn variables(mut self, variables: Value) -> Self {
        self.body["variables"] = variables;
        self
    }

    pub fn operation_name(mut self, name: &str) -> Self {
        self.body["operationName"] = Value::String(name.to_owned());
        self
    }

    pub fn accept(mut self, media_type: &'static str) -> Self {
        self.accept = media_type;
        self
    }

    /// Asks for the query plan.
    pub fn with_plan(mut self) -> Self {
        self.plan = true;
        self
    }

    pub async fn send(self) -> Reply {
        let mut request = self
            .federation
            .http
            .post(format!("{}/graphql", self.federation.router.url()))
            .header(reqwest::header::ACCEPT, self.accept)
            .json(&self.body);
        if self.plan {
            request = request.header(PLAN_HEADER, "1");
        }
        let response = request.send().await.expect("the router answers");
        let status = response.status();
        let mut body: Value = response.json().await.expect("a JSON body");
        let mut plan = None;
        let mut plan_json = None;
        if let Some(Value::Object(extensions)) = body.get_mut("extensions") {
            plan = extensions
                .remove("queryPlanText")
                .and_then(|t| t.as_str().map(str::to_owned));
            plan_json = extensions.remove("queryPlan");
            if extensions.is_empty()
                && let Value::Object(map) = &mut body
            {
                map.remove("extensions");
            }
        }
        Reply {
            status,
            body,
            plan,
            plan_json,
        }
    }
}

/// Subgraphs on free ports, composed, behind a router on a free port.
pub struct Federation {
    router: RouterServer,
    supergraph: String,
    log: Arc<Mutex<Vec<Received>>>,
    http: reqwest::Client,
    tasks: Vec<JoinHandle<()>>,
}

impl Federation {
    /// Serves every subgraph, composes their SDLs and starts the router. Each listener is
    /// bound before anything is asked of it, so the set is ready when this returns.
    pub async fn start(subgraphs: impl IntoIterator<Item = Subgraph>) -> anyhow::Result<Self> {
        Self::start_with(subgraphs, |sdls| {
            compose(sdls).map_err(|e| anyhow::anyhow!("composition failed:\n{e}"))
        })
        .await
    }

    /// Serves every subgraph and starts the router on the supergraph `supergraph` makes of
    /// them (for supergraphs written by hand: features composition does not produce).
    pub async fn start_with(
        subgraphs: impl IntoIterator<Item = Subgraph>,
        supergraph: impl FnOnce(&[SubgraphSdl]) -> anyhow::Result<String>,
    ) -> anyhow::Result<Self> {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut sdls = Vec::new();
        let mut tasks = Vec::new();
        for subgraph in subgraphs {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}/graphql", listener.local_addr()?);
            let app = match subgraph.behaviour {
                Behaviour::Serve(app) => Some(app),
                Behaviour::Garbage => Some(Router::new().route(
                    "/graphql",
                    post(|| async { "<html><body>502 Bad Gateway</body></html>" }),
                )),
                Behaviour::Down => None,
            };
            match app {
                Some(app) => {
                    let app = app.layer(middleware::from_fn_with_state(
                        Recorder {
                            subgraph: subgraph.name.clone(),
                            log: log.clone(),
                        },
                        record,
                    ));
                    tasks.push(tokio::spawn(async move {
                        let _ = axum::serve(listener, app).await;
                    }));
                }
                // Closing the listener frees the port: connections to it are refused.
                None => drop(listener),
            }
            sdls.push(SubgraphSdl {
                name: subgraph.name,
                url,
                sdl: subgraph.sdl,
            });
        }
        let supergraph = supergraph(&sdls)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let router = RouterServer::start(listener, &supergraph, GatewayConfig::default()).await?;
        Ok(Self {
            router,
            supergraph,
            log,
            http: reqwest::Client::new(),
            tasks,
        })
    }

    /// The composed supergraph SDL.
    pub fn supergraph(&self) -> &str {
        &self.supergraph
    }

    pub fn url(&self) -> String {
        self.router.url()
    }

    /// A request for `query`, to add variables, an operation name, a media type or the plan to.
    pub fn request(&self, query: &str) -> Call<'_> {
        Call {
            federation: self,
            body: json!({ "query": query }),
            accept: "application/json",
            plan: false,
        }
    }

    /// The response body for `query`.
    pub async fn query(&self, query: &str) -> Value {
        self.request(query).send().await.body
    }

    /// The response body for `query` and the plan the router ran, as text.
    pub async fn query_with_plan(&self, query: &str) -> (Value, String) {
        let reply = self.request(query).with_plan().send().await;
        let plan = reply.plan.expect("the response carries the query plan");
        (reply.body, plan)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Received>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every request the subgraphs received, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.lock().clone()
    }

    /// The requests `subgraph` received, in arrival order.
    pub fn received_by(&self, subgraph: &str) -> Vec<Received> {
        self.lock()
            .iter()
            .filter(|r| r.subgraph == subgraph)
            .cloned()
            .collect()
    }

    /// How many requests `subgraph` received.
    pub fn requests_to(&self, subgraph: &str) -> usize {
        self.lock()
            .iter()
            .filter(|r| r.subgraph == subgraph)
            .count()
    }

    /// How many plans the router has cached.
    pub fn cached_plans(&self) -> usize {
        self.router.engine().load().cached_plans()
    }

    /// Forgets the requests received so far.
    pub fn forget_requests(&self) {
        self.lock().clear();
    }

    /// Stops the router, then the subgraphs.
    pub async fn shutdown(self) {
        self.router.shutdown().await;
        for task in self.tasks {
            task.abort();
        }
    }
}
