//! What the router serves besides GraphQL execution, and what it forwards.

use serde::Deserialize;

/// Schema introspection (`__schema`, `__type`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Answer introspection queries. Turn off in production if the schema is private.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// The GraphiQL playground at `GET /` (and `GET /graphql` for browsers).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaygroundConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl Default for PlaygroundConfig {
    fn default() -> Self {
        Self { enabled: true }
    }
}

/// Planning, and query plans in responses: a request with the header
/// `X-Tessera-Query-Plan: 1` gets the plan in `extensions.queryPlan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryPlanConfig {
    /// Honour the header. Plans reveal the subgraph layout, so production may turn this off.
    #[serde(default = "yes")]
    pub expose: bool,
    /// How many plans to keep.
    #[serde(default = "default_cache_size")]
    pub cache_size: usize,
    /// How many parsed and validated documents to keep.
    #[serde(default = "default_cache_size")]
    pub document_cache_size: usize,
    /// The most steps planning one operation may take (walk and cost search); beyond it the
    /// operation is refused with `QUERY_PLANNING_BUDGET_EXCEEDED`.
    #[serde(default = "default_plan_steps")]
    pub max_steps: u64,
    /// The longest planning one operation may take, in milliseconds (the same refusal).
    #[serde(default = "default_plan_timeout_ms")]
    pub timeout_ms: u64,
    /// Which progressive `@override` labels are active.
    #[serde(default)]
    pub override_labels: OverrideLabelsConfig,
    /// The entity fetches of one plan step that go to one subgraph are sent as one request
    /// (an aliased `_entities` call each). Fewer subgraph requests; off, each is a request of
    /// its own, sent in parallel, which can answer sooner when the subgraph handles the calls
    /// of one request one after another.
    #[serde(default = "yes")]
    pub combine_entity_fetches: bool,
}

/// Progressive `@override(from:, label:)`: while a field's label is active the overriding
/// subgraph resolves it, otherwise the subgraph it overrides. A `percent(p)` label is active
/// for p% of requests, drawn per request; any other label is inactive unless named here or
/// in the request header below.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideLabelsConfig {
    /// Labels active for every request (a `percent(p)` label named here is always active).
    #[serde(default)]
    pub active: Vec<String>,
    /// A request header whose comma-separated labels are active for that request, on top
    /// of `active`. Off unless set: whoever can send it chooses which subgraph answers the
    /// labelled fields, so set it only where the edge strips it from untrusted clients.
    #[serde(default)]
    pub header: Option<String>,
}

impl Default for QueryPlanConfig {
    fn default() -> Self {
        Self {
            expose: true,
            cache_size: default_cache_size(),
            document_cache_size: default_cache_size(),
            max_steps: default_plan_steps(),
            timeout_ms: default_plan_timeout_ms(),
            override_labels: OverrideLabelsConfig::default(),
            combine_entity_fetches: true,
        }
    }
}

fn default_plan_steps() -> u64 {
    1_000_000
}

fn default_plan_timeout_ms() -> u64 {
    1_000
}

/// Limits on what a client may send. Each violation has its own `extensions.code`, and no
/// subgraph is called for a refused operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// The largest request body accepted, in bytes; larger bodies get 413.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// The most lexical tokens a document may have (`MAX_TOKENS_EXCEEDED`).
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// The deepest field nesting, fragments expanded; root fields are depth 1
    /// (`MAX_DEPTH_EXCEEDED`).
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// The most aliased fields, fragments expanded (`MAX_ALIASES_EXCEEDED`).
    #[serde(default = "default_max_aliases")]
    pub max_aliases: usize,
    /// The most root fields in one operation (`MAX_ROOT_FIELDS_EXCEEDED`).
    #[serde(default = "default_max_root_fields")]
    pub max_root_fields: usize,
    /// The most field selections in one operation, fragments expanded, `__typename` included
    /// (`MAX_SELECTIONS_EXCEEDED`). Measured without expanding, so fragments that spread each
    /// other cannot make the router do exponential work before it refuses.
    #[serde(default = "default_max_selections")]
    pub max_selections: usize,
    /// The most directive applications in the document (`MAX_DIRECTIVES_EXCEEDED`).
    #[serde(default = "default_max_directives")]
    pub max_directives: usize,
    /// The highest estimated cost (`COST_LIMIT_EXCEEDED`), checked before planning; no limit
    /// when absent. Each value a field returns costs its `@cost(weight:)` (on the field, else
    /// on its type), else 1 for an object and 0 for a leaf, plus the cost of its selection; a
    /// list counts that once per item, for as many items as its `@listSize` says (the largest
    /// slicing argument given, else the assumed size) or `list_size`. A `@listSize` with
    /// `sizedFields` gives that size to the named fields below instead (a connection's
    /// `edges`), and one that requires a slicing argument refuses an operation giving none or
    /// several (`SLICING_ARGUMENT_REQUIRED`). The directives are read under the names the
    /// supergraph's `@link` to the cost specification gives them.
    #[serde(default)]
    pub max_cost: Option<u64>,
    /// The size assumed for lists without `@listSize`.
    #[serde(default = "default_list_size")]
    pub list_size: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: default_max_body_bytes(),
            max_tokens: default_max_tokens(),
            max_depth: default_max_depth(),
            max_aliases: default_max_aliases(),
            max_root_fields: default_max_root_fields(),
            max_selections: default_max_selections(),
            max_directives: default_max_directives(),
            max_cost: None,
            list_size: default_list_size(),
        }
    }
}

fn default_max_tokens() -> usize {
    15_000
}

fn default_max_depth() -> usize {
    32
}

fn default_max_aliases() -> usize {
    256
}

fn default_max_root_fields() -> usize {
    64
}

fn default_max_selections() -> usize {
    5_000
}

fn default_max_directives() -> usize {
    128
}

fn default_list_size() -> u64 {
    10
}

fn yes() -> bool {
    true
}

fn default_cache_size() -> usize {
    1024
}

fn default_max_body_bytes() -> usize {
    2 * 1024 * 1024
}

/// Sharing work among identical requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeConfig {
    /// Identical subgraph queries (same subgraph, operation, variables and forwarded headers)
    /// in flight at the same time share one request. Mutations are never shared.
    #[serde(default = "yes")]
    pub subgraph_queries: bool,
}

impl Default for DedupeConfig {
    fn default() -> Self {
        Self {
            subgraph_queries: true,
        }
    }
}

/// Limits on time.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficConfig {
    /// How long one request may take from arrival to response, in milliseconds, before it is
    /// answered with `REQUEST_TIMEOUT` (504). Each subgraph also has its own fetch timeout.
    #[serde(default = "default_request_timeout_ms")]
    pub timeout_ms: u64,
    /// The largest subgraph response read, in bytes; a larger one fails its part of the
    /// response with `SUBGRAPH_RESPONSE_TOO_LARGE`. A subgraph's own `max_response_bytes`
    /// takes precedence. Also the largest message read from a subgraph's WebSocket.
    #[serde(default = "default_subgraph_max_response_bytes")]
    pub subgraph_max_response_bytes: usize,
    /// The most requests in flight to one subgraph origin (scheme, host and port) at once,
    /// shared by the subgraphs served there: over HTTP/1 the most connections to it. Fetches
    /// beyond it wait, inside their subgraph timeout.
    #[serde(default = "default_subgraph_max_connections_per_host")]
    pub subgraph_max_connections_per_host: usize,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            timeout_ms: default_request_timeout_ms(),
            subgraph_max_response_bytes: default_subgraph_max_response_bytes(),
            subgraph_max_connections_per_host: default_subgraph_max_connections_per_host(),
        }
    }
}

fn default_subgraph_max_response_bytes() -> usize {
    32 * 1024 * 1024
}

fn default_subgraph_max_connections_per_host() -> usize {
    512
}

fn default_request_timeout_ms() -> u64 {
    30_000
}

/// Picking up a changed supergraph or configuration file while running.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadConfig {
    /// Watch the files the router was started with. A file that changes is read again and, if
    /// valid, takes over for new requests; requests in flight finish on what they started
    /// with. An invalid file is logged and the running version kept.
    #[serde(default = "yes")]
    pub watch: bool,
    /// How often to look, in milliseconds.
    #[serde(default = "default_reload_interval_ms")]
    pub interval_ms: u64,
}

impl Default for ReloadConfig {
    fn default() -> Self {
        Self {
            watch: true,
            interval_ms: default_reload_interval_ms(),
        }
    }
}

fn default_reload_interval_ms() -> u64 {
    1_000
}

/// Compressed bodies. Request bodies compressed with gzip, brotli or zstd
/// (`Content-Encoding`) are always read; `limits.max_body_bytes` applies to them
/// decompressed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressionConfig {
    /// Compress responses with gzip, brotli or zstd, as the client's `Accept-Encoding`
    /// prefers. Streamed responses (SSE, multipart) are never compressed: compressing would
    /// hold their events back.
    #[serde(default = "yes")]
    pub responses: bool,
    /// Smaller responses go uncompressed.
    #[serde(default = "default_compression_min_bytes")]
    pub min_bytes: u64,
    /// `fastest`, `default` (gzip 6, brotli 4, zstd 3) or `best`. Read at start.
    #[serde(default)]
    pub level: CompressionLevel,
    /// Ask subgraphs for compressed responses (`Accept-Encoding: gzip, br, zstd`) and decode
    /// them; `traffic.subgraph_max_response_bytes` applies decoded. Off by default: next to
    /// the subgraphs, decoding costs the router more than the bytes saved (7% of throughput
    /// on the router benchmark); turn it on where the link to a subgraph is slow or paid for.
    #[serde(default)]
    pub subgraphs: bool,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        Self {
            responses: true,
            min_bytes: default_compression_min_bytes(),
            level: CompressionLevel::default(),
            subgraphs: false,
        }
    }
}

/// How hard responses are compressed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompressionLevel {
    /// The least CPU per byte: a router is usually CPU-bound, and JSON compresses well even so.
    #[default]
    Fastest,
    Default,
    Best,
}

fn default_compression_min_bytes() -> u64 {
    1024
}
