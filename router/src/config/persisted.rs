//! Persisted documents and automatic persisted queries (`persisted_documents:`), and batches of
//! operations in one request (`batching:`).
//!
//! ```yaml
//! persisted_documents:
//!   manifest: persisted-documents.json   # Apollo's manifest or Relay's {id: text}; re-read on change
//!   mode: safelist                       # allow (default) | safelist | log
//!   require_id: false                    # safelist: refuse a listed document sent as text
//!   apq:
//!     enabled: true
//!     ttl_secs: 86400
//!     redis:
//!       url: redis://127.0.0.1:6379
//! batching:
//!   enabled: true
//!   max_size: 16
//! ```

use std::path::PathBuf;

use serde::Deserialize;

use super::rate_limit::RedisUrl;

/// Documents known ahead by id, and documents clients register by hash.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistedDocumentsConfig {
    /// The manifest of persisted documents: Apollo's persisted query manifest
    /// (`{"format": "apollo-persisted-query-manifest", "operations": [...]}`) or Relay's map of
    /// id to document text. Looked at every `reload.interval_ms` and re-read when it changes;
    /// a manifest that does not read keeps the previous one.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
    /// What a document outside the manifest may do.
    #[serde(default)]
    pub mode: PersistedMode,
    /// In `safelist` mode, refuse a listed document sent as text: only ids are taken.
    #[serde(default)]
    pub require_id: bool,
    /// Automatic persisted queries: clients register a document under its SHA-256 hash.
    #[serde(default)]
    pub apq: ApqConfig,
}

impl Default for PersistedDocumentsConfig {
    fn default() -> Self {
        Self {
            manifest: None,
            mode: PersistedMode::Allow,
            require_id: false,
            apq: ApqConfig::default(),
        }
    }
}

/// What a document outside the manifest may do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersistedMode {
    /// Any document runs; manifest ids are resolved.
    #[default]
    Allow,
    /// Only the manifest's documents run (`PERSISTED_QUERY_NOT_IN_LIST` otherwise), and
    /// automatic persisted queries cannot register new ones.
    Safelist,
    /// Any document runs, and each one outside the manifest is logged (its operation name and
    /// hash): the way to find what a safelist would refuse before turning it on.
    Log,
}

/// Automatic persisted queries.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApqConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How long a registered document is kept after it was last registered, in seconds.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u64,
    /// How many documents the in-process store keeps (least recently used go first).
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
    /// How many bytes of documents the in-process store keeps, in all.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: usize,
    /// The largest document kept; a larger one runs but is not kept, so its client goes on
    /// sending it. Documents are kept only once they have passed validation and the limits.
    #[serde(default = "default_max_document_bytes")]
    pub max_document_bytes: usize,
    /// Keep documents in Redis, shared by every router pointing at it, instead of in process.
    #[serde(default)]
    pub redis: Option<ApqRedis>,
}

impl Default for ApqConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttl_secs: default_ttl_secs(),
            max_entries: default_max_entries(),
            max_bytes: default_max_bytes(),
            max_document_bytes: default_max_document_bytes(),
            redis: None,
        }
    }
}

/// The Redis that keeps registered documents.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApqRedis {
    /// Connection URL; may carry a password, so it never prints.
    pub url: RedisUrl,
    /// Prefix of every key, so several deployments can share one Redis.
    #[serde(default = "default_key_prefix")]
    pub key_prefix: String,
    /// How long one lookup or store may wait for Redis, connecting included, in milliseconds.
    /// A slower Redis counts as a miss (the client sends the document again).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl PersistedDocumentsConfig {
    /// Checks what the types alone cannot.
    pub(crate) fn check(&self) -> anyhow::Result<()> {
        if self.mode != PersistedMode::Allow && self.manifest.is_none() {
            anyhow::bail!("persisted_documents: safelist and log modes need a manifest");
        }
        if self.require_id && self.mode != PersistedMode::Safelist {
            anyhow::bail!("persisted_documents.require_id applies to safelist mode only");
        }
        let apq = &self.apq;
        if apq.ttl_secs == 0 || apq.ttl_secs > 366 * 24 * 60 * 60 {
            anyhow::bail!("persisted_documents.apq.ttl_secs must be above 0 and at most a year");
        }
        if apq.max_bytes == 0 || apq.max_document_bytes == 0 {
            anyhow::bail!(
                "persisted_documents.apq: max_bytes and max_document_bytes must be above 0"
            );
        }
        Ok(())
    }
}

/// Several operations in one POST, answered as a list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchingConfig {
    /// Off by default: one batch multiplies the work of one request.
    #[serde(default)]
    pub enabled: bool,
    /// The most operations one batch may hold; a larger batch is refused whole.
    #[serde(default = "default_max_batch")]
    pub max_size: usize,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_size: default_max_batch(),
        }
    }
}

fn yes() -> bool {
    true
}

fn default_ttl_secs() -> u64 {
    24 * 60 * 60
}

fn default_max_entries() -> usize {
    10_000
}

fn default_max_bytes() -> usize {
    64 << 20
}

fn default_max_document_bytes() -> usize {
    128 << 10
}

fn default_key_prefix() -> String {
    "tessera:apq".to_owned()
}

fn default_timeout_ms() -> u64 {
    50
}

fn default_max_batch() -> usize {
    16
}
