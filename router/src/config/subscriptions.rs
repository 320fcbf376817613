//! Subscriptions: the client protocols' timers, per-subscriber buffers, and what happens when
//! a subgraph's subscription stream breaks.

use serde::Deserialize;

/// What the router does when the WebSocket to the subgraph serving a subscription closes
/// without the subgraph completing the subscription (a restart, a network failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnSubgraphDisconnect {
    /// Subscribe again (with backoff, up to `resubscribe_attempts` times in a row); events the
    /// subgraph published while no subscription was open are not replayed.
    Resubscribe,
    /// End the client's subscription with a `SUBSCRIPTION_SUBGRAPH_DISCONNECTED` error.
    Error,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionsConfig {
    /// Serve subscriptions at all (WebSocket, SSE and multipart).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How often an idle connection carries a keep-alive (graphql-transport-ws `ping`, legacy
    /// `ka`, an SSE comment, an empty multipart part).
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
    /// How long a WebSocket client may take to send `connection_init`.
    #[serde(default = "default_init_timeout_ms")]
    pub init_timeout_ms: u64,
    /// Events buffered per subscriber; a subscriber that falls this far behind is ended with
    /// `SUBSCRIBER_TOO_SLOW` rather than holding the others back.
    #[serde(default = "default_buffer")]
    pub buffer: usize,
    /// Operations one WebSocket connection, or one single connection mode event stream, may
    /// have open at once.
    #[serde(default = "default_max_per_connection")]
    pub max_per_connection: usize,
    /// Identical subscriptions (same operation, variables and caller) share one subgraph
    /// subscription and one resolution per event.
    #[serde(default = "yes")]
    pub dedupe: bool,
    #[serde(default = "default_on_disconnect")]
    pub on_subgraph_disconnect: OnSubgraphDisconnect,
    /// Attempts in a row before a `resubscribe` gives up and ends the stream with an error.
    #[serde(default = "default_attempts")]
    pub resubscribe_attempts: u32,
    /// The first wait before subscribing again; it doubles per failed attempt, up to 5 s.
    #[serde(default = "default_backoff_ms")]
    pub resubscribe_backoff_ms: u64,
    /// GraphQL over SSE's single connection mode: one event stream, reserved with `PUT`, for
    /// all of a client's operations.
    #[serde(default)]
    pub single_connection: SingleConnectionConfig,
    /// The page origins (`https://app.example.com`, or `*`) whose WebSocket upgrades are
    /// accepted; by default the router's own origin and `cors.allow_origins`. A browser always
    /// sends `Origin` and cannot be stopped by CORS from opening a WebSocket, so this is the
    /// check that keeps another site's page from using a visitor's cookies. Clients that are
    /// not browsers send no `Origin` and are not affected.
    #[serde(default)]
    pub allowed_origins: Option<Vec<String>>,
}

/// GraphQL over SSE's single connection mode (the graphql-sse protocol): a `PUT` reserves an
/// event stream and answers its token; the stream is opened with a `GET`, operations are
/// started with `POST`s and stopped with `DELETE`s that carry the token. Every request of a
/// reservation must come from the caller (the same token, or anonymous) that made it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SingleConnectionConfig {
    /// Accept reservations at all (when subscriptions are enabled).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Reservations whose stream is not open yet that may wait at once, across all callers;
    /// more are refused with `TOO_MANY_RESERVATIONS` (503).
    #[serde(default = "default_max_reservations")]
    pub max_reservations: usize,
    /// Reservations not open yet that one client may hold at once: an authenticated
    /// caller by its token, an anonymous one by its address (an IPv6 address by its `/64`);
    /// more are refused with `TOO_MANY_RESERVATIONS` (503), so that one client cannot take
    /// every place of `max_reservations`.
    #[serde(default = "default_max_reservations_per_client")]
    pub max_reservations_per_client: usize,
    /// How long a reservation waits for its stream to be opened before it expires, with the
    /// operations already started on it.
    #[serde(default = "default_reservation_timeout_ms")]
    pub reservation_timeout_ms: u64,
}

impl Default for SingleConnectionConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_reservations: default_max_reservations(),
            max_reservations_per_client: default_max_reservations_per_client(),
            reservation_timeout_ms: default_reservation_timeout_ms(),
        }
    }
}

impl Default for SubscriptionsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            keepalive_ms: default_keepalive_ms(),
            init_timeout_ms: default_init_timeout_ms(),
            buffer: default_buffer(),
            max_per_connection: default_max_per_connection(),
            dedupe: true,
            on_subgraph_disconnect: default_on_disconnect(),
            resubscribe_attempts: default_attempts(),
            resubscribe_backoff_ms: default_backoff_ms(),
            single_connection: SingleConnectionConfig::default(),
            allowed_origins: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_keepalive_ms() -> u64 {
    15_000
}

fn default_init_timeout_ms() -> u64 {
    10_000
}

fn default_buffer() -> usize {
    128
}

fn default_max_per_connection() -> usize {
    100
}

fn default_on_disconnect() -> OnSubgraphDisconnect {
    OnSubgraphDisconnect::Resubscribe
}

fn default_attempts() -> u32 {
    10
}

fn default_backoff_ms() -> u64 {
    100
}

fn default_max_reservations() -> usize {
    1000
}

fn default_max_reservations_per_client() -> usize {
    8
}

fn default_reservation_timeout_ms() -> u64 {
    10_000
}
