//! Channels: one subgraph subscription, the resolution of each of its events, and the
//! subscribers it fans out to.
//!
//! A channel's task subscribes at the owning subgraph with the plan's first fetch; for each
//! event it runs the rest of the plan (entity fetches to other subgraphs), shapes the result
//! to the client's selection once, and broadcasts the bytes. When the subgraph connection is
//! lost it subscribes again or ends the stream, as configured. When the router reloads, it
//! prepares the operation again on the new engine: it goes on if the subgraph subscription is
//! the same, and completes otherwise. The task stops when the last subscriber leaves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use apollo_compiler::response::JsonMap;
use apollo_compiler::response::serde_json_bytes::ByteString;
use bytes::Bytes;
use http::HeaderMap;
use tokio::sync::{broadcast, watch};

use super::upstream::{Connection, Upstream};
use super::{Frame, Subscription};
use crate::config::OnSubgraphDisconnect;
use crate::edge::jwt::Identity;
use crate::executor::{self, shape};
use crate::json::Value;
use crate::pipeline::execute::Response;
use crate::pipeline::request::GraphQLRequest;
use crate::pipeline::{self, Engine, HttpRequest, Prepared};
use crate::planner::{FetchNode, PlanNode, QueryPlan};
use crate::server::SharedEngine;

/// The open channels, by what makes two subscriptions identical, and the reload signal.
pub struct Registry {
    channels: Mutex<HashMap<Key, Weak<Channel>>>,
    reloads: watch::Sender<u64>,
    closing: watch::Sender<bool>,
}

impl Default for Registry {
    fn default() -> Self {
        Self {
            channels: Mutex::new(HashMap::new()),
            reloads: watch::Sender::new(0),
            closing: watch::Sender::new(false),
        }
    }
}

/// Resolves once the router is shutting down. A registry that is gone (an engine replaced by
/// one with a registry of its own) never closes.
pub(crate) async fn closed(closing: &mut watch::Receiver<bool>) {
    if closing.wait_for(|closing| *closing).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("channels", &self.open())
            .finish()
    }
}

/// Two subscriptions share a channel only when all of this is equal: the same operation and
/// variables, for the same token and the same forwarded headers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    query: String,
    operation_name: Option<String>,
    variables: Vec<u8>,
    token: Option<Arc<str>>,
    headers: Vec<(Option<usize>, String, Vec<u8>)>,
}

/// A subgraph subscription and its subscribers.
pub struct Channel {
    sender: broadcast::Sender<Frame>,
    ended: Arc<AtomicBool>,
    task: tokio::task::AbortHandle,
    key: Option<Key>,
    registry: Weak<Registry>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.task.abort();
        if let (Some(key), Some(registry)) = (&self.key, self.registry.upgrade()) {
            let mut channels = registry.lock();
            if channels.get(key).is_some_and(|w| w.strong_count() == 0) {
                channels.remove(key);
            }
        }
    }
}

/// What preparing the operation again (after a reload) needs.
pub struct Source {
    pub shared: SharedEngine,
    pub identity: Option<Identity>,
    pub request: GraphQLRequest,
    pub headers: HeaderMap,
    pub remote: Option<IpAddr>,
}

/// The operation as the current engine runs it.
pub struct Live {
    engine: Arc<Engine>,
    prepared: Prepared,
    /// The subscription at the owning subgraph.
    primary: FetchNode,
    /// The rest of the plan, run for each event.
    rest: QueryPlan,
    url: String,
    /// The largest message read from the subgraph's WebSocket.
    max_message: usize,
    variables: JsonMap,
}

impl Live {
    /// Splits the plan into the subgraph subscription and the rest. Fails with the response
    /// to send instead when the plan subscribes to nothing (authorization removed the field).
    pub fn new(engine: Arc<Engine>, prepared: Prepared) -> Result<Self, Bytes> {
        let (primary, rest) = match &prepared.planned.plan.root {
            Some(PlanNode::Fetch(fetch)) => (fetch.clone(), None),
            Some(PlanNode::Sequence { nodes }) => match nodes.split_first() {
                Some((PlanNode::Fetch(fetch), rest)) => (
                    fetch.clone(),
                    match rest.len() {
                        0 => None,
                        1 => Some(rest[0].clone()),
                        _ => Some(PlanNode::Sequence {
                            nodes: rest.to_vec(),
                        }),
                    },
                ),
                _ => return Err(nothing(&prepared)),
            },
            _ => return Err(nothing(&prepared)),
        };
        if !primary.kind.is_subscription() {
            return Err(nothing(&prepared));
        }
        let Some(endpoint) = engine.executor.endpoint(primary.subgraph) else {
            return Err(nothing(&prepared));
        };
        let url = endpoint.subscription_url.clone();
        let max_message = endpoint.max_response_bytes;
        let mut variables = JsonMap::new();
        for name in &primary.variable_usages {
            if let Some(value) = prepared.variables.get(name.as_str()) {
                variables.insert(ByteString::from(name.as_str()), value.clone());
            }
        }
        let unresolvable = prepared.planned.plan.unresolvable.clone();
        Ok(Self {
            engine,
            prepared,
            primary,
            rest: QueryPlan {
                root: rest,
                unresolvable,
                // Checked when the subscription was planned.
                refused: Vec::new(),
            },
            url,
            max_message,
            variables,
        })
    }

    /// Whether `other` subscribes to the same thing at the same subgraph.
    fn same_subscription(&self, other: &Live) -> bool {
        self.url == other.url
            && self.primary.service_name == other.primary.service_name
            && self.primary.operation == other.primary.operation
            && self.variables == other.variables
            && self.prepared.headers == other.prepared.headers
    }

    /// Completes one event with the rest of the plan and shapes it to the client's selection.
    async fn resolve(&self, payload: Value) -> Bytes {
        let engine = &self.engine;
        let (mut data, errors) = match payload {
            Value::Object(mut map) => (
                map.remove("data").unwrap_or(Value::Null),
                match map.remove("errors") {
                    Some(Value::Array(errors)) => errors,
                    _ => Vec::new(),
                },
            ),
            _ => (Value::Null, Vec::new()),
        };
        if self.primary.renames {
            crate::planner::rename_back(&mut data);
        }
        let operation = &self.prepared.planned.operation;
        let mut errors = executor::root_errors(errors, &self.primary.service_name);
        operation.client_error_paths(&mut errors);
        errors.extend(self.prepared.errors.iter().cloned());
        // The executor adds its own errors after these, with subgraph-side paths.
        let from = errors.len();
        let output = if data.is_object() && self.rest.root.is_some() {
            let run = engine.executor.execute_from(
                executor::Request {
                    plan: &self.rest,
                    graph: &engine.graph,
                    variables: &self.prepared.variables,
                    headers: &self.prepared.headers,
                    rules: None,
                    personal: false,
                },
                data,
                errors,
            );
            let limit = engine.config.traffic.timeout_ms;
            match tokio::time::timeout(Duration::from_millis(limit), run).await {
                Ok(output) => output,
                Err(_) => executor::Output {
                    data: Value::Null,
                    errors: vec![executor::error_value(
                        &format!("resolving the event took longer than {limit} ms"),
                        "REQUEST_TIMEOUT",
                        None,
                        None,
                    )],
                    headers: http::HeaderMap::new(),
                },
            }
        } else {
            executor::Output {
                data,
                errors,
                headers: http::HeaderMap::new(),
            }
        };
        let mut errors = output.errors;
        if !self.rest.unresolvable.is_empty() {
            crate::pipeline::execute::unresolvable_errors(
                &engine.graph,
                &self.rest,
                &self.prepared.variables,
                &output.data,
                &mut errors,
            );
        }
        if let Some(added) = errors.get_mut(from..) {
            operation.client_error_paths(added);
        }
        let body = shape::shape_into(
            Response::buffer(4096),
            &engine.supergraph.api,
            &engine.graph,
            shape::Selected {
                operation: &self.prepared.planned.operation,
                withheld: &self.prepared.planned.withheld,
                variables: &self.prepared.variables,
            },
            &output.data,
            None,
            &mut errors,
        );
        Bytes::from(Response::written(body, errors).encode(None))
    }
}

/// The response for an operation whose plan subscribes to nothing.
fn nothing(prepared: &Prepared) -> Bytes {
    let mut errors = prepared.errors.clone();
    if errors.is_empty() {
        errors.push(executor::error_value(
            "the subscription has no field a subgraph streams",
            "QUERY_PLANNING_FAILED",
            None,
            None,
        ));
    }
    Bytes::from(Response::new(b"null", errors).encode(None))
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Weak<Channel>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many channels are open.
    pub fn open(&self) -> usize {
        self.lock()
            .values()
            .filter(|w| w.strong_count() > 0)
            .count()
    }

    /// Tells every channel that a new engine serves: each prepares its operation again.
    pub fn reloaded(&self) {
        self.reloads.send_modify(|generation| *generation += 1);
    }

    /// Ends every subscription (with `complete`) and every WebSocket: the router is shutting
    /// down, and open streams would otherwise hold its graceful shutdown forever.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// What [`closed`] waits on.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// Subscribes to the channel for `live`, starting it unless an identical one is open.
    pub fn join(self: &Arc<Self>, source: Source, live: Live) -> Subscription {
        let config = &live.engine.config.subscriptions;
        let key = config.dedupe.then(|| Key {
            query: source.request.query.clone().unwrap_or_default(),
            operation_name: source.request.operation_name.clone(),
            variables: serde_json::to_vec(&*live.prepared.variables).unwrap_or_default(),
            token: source.identity.as_ref().map(|i| i.token.clone()),
            headers: live.prepared.headers.pairs(),
        });
        let mut channels = self.lock();
        let existing = key
            .as_ref()
            .and_then(|key| channels.get(key))
            .and_then(Weak::upgrade);
        // An ended channel is replaced; it is dropped only after the lock is released, since
        // dropping the last reference takes the lock.
        let _ended = match existing {
            Some(channel) if !channel.ended.load(Ordering::SeqCst) => {
                let receiver = channel.sender.subscribe();
                return Subscription {
                    _channel: channel,
                    receiver,
                    done: false,
                };
            }
            other => other,
        };
        let (sender, receiver) = broadcast::channel(config.buffer);
        let ended = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(run(
            Arc::downgrade(self),
            sender.clone(),
            ended.clone(),
            self.reloads.subscribe(),
            self.closing(),
            source,
            live,
        ));
        let channel = Arc::new(Channel {
            sender,
            ended,
            task: task.abort_handle(),
            key: key.clone(),
            registry: Arc::downgrade(self),
        });
        if let Some(key) = key {
            channels.insert(key, Arc::downgrade(&channel));
        }
        drop(channels);
        Subscription {
            _channel: channel,
            receiver,
            done: false,
        }
    }
}

/// Marks the channel ended (so no one new joins) and sends its last frame.
fn finish(
    registry: &Weak<Registry>,
    sender: &broadcast::Sender<Frame>,
    ended: &AtomicBool,
    frame: Frame,
) {
    match registry.upgrade() {
        Some(registry) => {
            let _guard = registry.lock();
            ended.store(true, Ordering::SeqCst);
        }
        None => ended.store(true, Ordering::SeqCst),
    }
    let _ = sender.send(frame);
}

/// What a reload means for a channel.
enum Reload {
    /// The engine it runs on still serves.
    Same,
    /// The operation on the new engine subscribes to the same thing: go on with it.
    Next(Box<Live>),
    /// The change affects the subscription (or it no longer validates): complete it.
    End,
}

async fn reprepare(
    changed: Result<(), watch::error::RecvError>,
    source: &Source,
    current: &Live,
) -> Reload {
    if changed.is_err() {
        return Reload::End;
    }
    let engine = source.shared.load_full();
    if Arc::ptr_eq(&engine, &current.engine) {
        return Reload::Same;
    }
    let http = HttpRequest {
        method: &http::Method::POST,
        headers: &source.headers,
        query_string: None,
        body: &[],
        remote: source.remote,
    };
    let prepared = pipeline::prepare(
        &engine,
        source.identity.as_ref(),
        &http,
        source.request.clone(),
        true,
    )
    .await;
    match prepared.ok().and_then(|p| Live::new(engine, p).ok()) {
        Some(next) if current.same_subscription(&next) => Reload::Next(Box::new(next)),
        _ => Reload::End,
    }
}

async fn run(
    registry: Weak<Registry>,
    sender: broadcast::Sender<Frame>,
    ended: Arc<AtomicBool>,
    mut reloads: watch::Receiver<u64>,
    mut closing: watch::Receiver<bool>,
    source: Source,
    mut live: Live,
) {
    let finish = |frame: Frame| finish(&registry, &sender, &ended, frame);
    let mut failures: u32 = 0;
    loop {
        let config = live.engine.config.subscriptions.clone();
        if failures > 0 {
            let backoff = config
                .resubscribe_backoff_ms
                .saturating_mul(1 << (failures - 1).min(16))
                .min(5_000);
            tokio::time::sleep(Duration::from_millis(backoff)).await;
        }
        let timeout = Duration::from_millis(live.engine.config.traffic.timeout_ms);
        let opened = tokio::select! {
            opened = Connection::open(
                &live.url,
                live.prepared.headers.of(live.primary.subgraph),
                &live.primary.operation,
                &live.variables,
                live.max_message,
                timeout,
            ) => opened,
            changed = reloads.changed() => {
                match reprepare(changed, &source, &live).await {
                    Reload::Same => {}
                    Reload::Next(next) => live = *next,
                    Reload::End => return finish(Frame::Complete),
                }
                continue;
            }
            () = closed(&mut closing) => return finish(Frame::Complete),
        };
        let mut connection = match opened {
            Ok(connection) => connection,
            Err(reason) => {
                failures += 1;
                tracing::warn!(
                    service = %live.primary.service_name,
                    %reason,
                    attempt = failures,
                    "cannot subscribe at the subgraph"
                );
                if config.on_subgraph_disconnect == OnSubgraphDisconnect::Error
                    || failures > config.resubscribe_attempts
                {
                    return finish(Frame::error(
                        &format!(
                            "the subscription cannot be opened at subgraph {}",
                            live.primary.service_name
                        ),
                        "SUBSCRIPTION_SUBGRAPH_UNAVAILABLE",
                    ));
                }
                continue;
            }
        };
        loop {
            tokio::select! {
                event = connection.next() => match event {
                    Upstream::Next(payload) => {
                        let bytes = live.resolve(payload).await;
                        if sender.send(Frame::Next(bytes)).is_err() {
                            // No subscriber left.
                            connection.close().await;
                            return;
                        }
                    }
                    Upstream::Errors(errors) => {
                        let mut errors = executor::root_errors(errors, &live.primary.service_name);
                        live.prepared.planned.operation.client_error_paths(&mut errors);
                        connection.close().await;
                        return finish(Frame::Error(Bytes::from(
                            serde_json::to_vec(&errors).unwrap_or_else(|_| b"[]".to_vec()),
                        )));
                    }
                    Upstream::Complete => return finish(Frame::Complete),
                    Upstream::Lost(reason) => {
                        tracing::warn!(
                            service = %live.primary.service_name,
                            %reason,
                            "lost the subscription at the subgraph"
                        );
                        if config.on_subgraph_disconnect == OnSubgraphDisconnect::Error {
                            return finish(Frame::error(
                                &format!(
                                    "subgraph {} ended the connection serving this subscription",
                                    live.primary.service_name
                                ),
                                "SUBSCRIPTION_SUBGRAPH_DISCONNECTED",
                            ));
                        }
                        failures = 1;
                        break;
                    }
                },
                changed = reloads.changed() => {
                    match reprepare(changed, &source, &live).await {
                        Reload::Same => {}
                        Reload::Next(next) => live = *next,
                        Reload::End => {
                            connection.close().await;
                            return finish(Frame::Complete);
                        }
                    }
                }
                () = closed(&mut closing) => {
                    connection.close().await;
                    return finish(Frame::Complete);
                }
            }
        }
    }
}
