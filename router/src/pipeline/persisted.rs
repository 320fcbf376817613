//! Step 1b: the document a request runs. The client sends it as text, names a persisted
//! document by id (`documentId`, or Relay's `doc_id`/`id`), or names it by SHA-256 hash in
//! `extensions.persistedQuery` (automatic persisted queries: a miss answers
//! `PERSISTED_QUERY_NOT_FOUND`, the client sends the text with the hash, the router checks
//! the hash and keeps the text).
//!
//! The manifest is re-read when its file changes; the store of registered documents is in
//! process or in Redis, shared by every router pointing at it. In `safelist` mode only the
//! manifest's documents run; in `log` mode everything runs and what is outside the manifest
//! is logged.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use lru::LruCache;
use sha2::{Digest as _, Sha256};
use tokio::time::{Instant, timeout_at};

use super::request::{GraphQLRequest, RequestError};
use crate::config::persisted::{ApqConfig, PersistedDocumentsConfig, PersistedMode};
use crate::redis_link::Link;

/// A SHA-256 hash of a document's text.
type Hash = [u8; 32];

/// The document a request runs: its own text, or one the router keeps.
#[derive(Debug)]
pub enum Document<'r> {
    Given(&'r str),
    Stored(Arc<str>),
}

impl std::ops::Deref for Document<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Document::Given(text) => text,
            Document::Stored(text) => text,
        }
    }
}

/// The persisted documents of one configuration; kept across reloads that leave
/// `persisted_documents` unchanged.
pub struct Persisted {
    config: PersistedDocumentsConfig,
    manifest: Arc<ArcSwap<Manifest>>,
    store: Option<Store>,
}

impl std::fmt::Debug for Persisted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persisted")
            .field("mode", &self.config.mode)
            .field("documents", &self.manifest.load().by_id.len())
            .finish_non_exhaustive()
    }
}

impl Persisted {
    /// Reads the manifest (an unreadable one fails the start or the reload) and, when a Tokio
    /// runtime is running, watches it every `watch_every`.
    pub fn new(
        config: &PersistedDocumentsConfig,
        watch_every: Option<Duration>,
    ) -> anyhow::Result<Arc<Self>> {
        let (manifest, seen) = match &config.manifest {
            Some(path) => {
                let (manifest, seen) = Manifest::load(path)?;
                (manifest, Some(seen))
            }
            None => (Manifest::default(), None),
        };
        if config.mode == PersistedMode::Safelist && config.manifest.is_none() {
            anyhow::bail!("persisted_documents: safelist mode needs a manifest");
        }
        let persisted = Arc::new(Self {
            manifest: Arc::new(ArcSwap::from_pointee(manifest)),
            store: Store::new(&config.apq)?,
            config: config.clone(),
        });
        if let (Some(path), Some(seen), Some(every)) = (&config.manifest, seen, watch_every)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(watch(
                Arc::downgrade(&persisted.manifest),
                path.clone(),
                seen,
                every,
            ));
        }
        Ok(persisted)
    }

    /// The configuration this was made from.
    pub fn config(&self) -> &PersistedDocumentsConfig {
        &self.config
    }

    /// How many documents the manifest holds.
    pub fn documents(&self) -> usize {
        self.manifest.load().by_id.len()
    }

    /// The document `request` runs, or why it may not run.
    pub async fn document<'r>(
        &self,
        request: &'r GraphQLRequest,
    ) -> Result<Document<'r>, RequestError> {
        let query = request.query.as_deref().filter(|q| !q.trim().is_empty());
        if let Some(id) = &request.document_id {
            if query.is_some() {
                return Err(RequestError::BadParameter(
                    "send a document's text or its documentId, not both".to_owned(),
                ));
            }
            if let Some(text) = self.manifest.load().get(id) {
                return Ok(Document::Stored(text));
            }
            let hash = id.strip_prefix("sha256:").and_then(parse_hash);
            if let (Some(store), Some(hash)) = (&self.store, hash)
                && self.config.mode != PersistedMode::Safelist
                && let Some(text) = store.get(&hash).await
            {
                return Ok(Document::Stored(text));
            }
            return Err(RequestError::PersistedQueryNotFound);
        }
        if let Some(extension) = request
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
        {
            let hash = apq_hash(extension)?;
            return match query {
                Some(text) => {
                    if hash_of(text) != hash {
                        return Err(RequestError::PersistedQueryHashMismatch);
                    }
                    self.admit_text(&hash, request)?;
                    if let Some(store) = &self.store
                        && self.config.mode != PersistedMode::Safelist
                    {
                        store.put(&hash, text).await;
                    }
                    Ok(Document::Given(text))
                }
                None => {
                    if let Some(text) = self.manifest.load().get(&hex::encode(hash)) {
                        return Ok(Document::Stored(text));
                    }
                    match &self.store {
                        Some(store) if self.config.mode != PersistedMode::Safelist => store
                            .get(&hash)
                            .await
                            .map(Document::Stored)
                            .ok_or(RequestError::PersistedQueryNotFound),
                        _ if self.config.manifest.is_some() => {
                            Err(RequestError::PersistedQueryNotFound)
                        }
                        _ => Err(RequestError::PersistedQueryNotSupported),
                    }
                }
            };
        }
        let text = query.ok_or(RequestError::MissingQuery)?;
        if self.config.mode != PersistedMode::Allow {
            self.admit_text(&hash_of(text), request)?;
        }
        Ok(Document::Given(text))
    }

    /// Whether a document sent as text, by its hash, may run.
    fn admit_text(&self, hash: &Hash, request: &GraphQLRequest) -> Result<(), RequestError> {
        match self.config.mode {
            PersistedMode::Allow => Ok(()),
            PersistedMode::Safelist if self.config.require_id => {
                Err(RequestError::PersistedQueryIdRequired)
            }
            PersistedMode::Safelist => {
                if self.manifest.load().hashes.contains(hash) {
                    Ok(())
                } else {
                    Err(RequestError::PersistedQueryNotInList)
                }
            }
            PersistedMode::Log => {
                if !self.manifest.load().hashes.contains(hash) {
                    tracing::info!(
                        operation = request.operation_name.as_deref().unwrap_or(""),
                        hash = %hex::encode(hash),
                        "a document outside the persisted document list ran"
                    );
                }
                Ok(())
            }
        }
    }
}

/// `extensions.persistedQuery`: version 1 and a lower-case hexadecimal SHA-256.
fn apq_hash(extension: &apollo_compiler::response::JsonValue) -> Result<Hash, RequestError> {
    let bad = |message: &str| RequestError::BadParameter(format!("persistedQuery: {message}"));
    let map = extension
        .as_object()
        .ok_or_else(|| bad("must be an object"))?;
    match map.get("version").and_then(|v| v.as_i64()) {
        Some(1) => {}
        _ => return Err(bad("version must be 1")),
    }
    map.get("sha256Hash")
        .and_then(|v| v.as_str())
        .and_then(parse_hash)
        .ok_or_else(|| bad("sha256Hash must be 64 hexadecimal characters"))
}

fn hash_of(text: &str) -> Hash {
    Sha256::digest(text.as_bytes()).into()
}

fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 64 {
        return None;
    }
    let mut hash = [0; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}

/// The manifest's documents by id, and the hashes of their texts (for documents sent as
/// text in `safelist` and `log` modes).
#[derive(Default)]
struct Manifest {
    by_id: std::collections::HashMap<String, Arc<str>>,
    hashes: std::collections::HashSet<Hash>,
}

/// What a manifest file held when read (its hash), to tell when it changed.
type Seen = Hash;

impl Manifest {
    fn load(path: &Path) -> anyhow::Result<(Self, Seen)> {
        let fail = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "persisted_documents.manifest {}: {e}",
                path.to_string_lossy()
            )
        };
        let text = std::fs::read(path).map_err(|e| fail(&e))?;
        let manifest = Self::parse(&text).map_err(|e| fail(&e))?;
        Ok((manifest, Sha256::digest(&text).into()))
    }

    /// Apollo's manifest (`format`, `version`, `operations: [{id, body}]`) or Relay's map of
    /// id to text.
    fn parse(text: &[u8]) -> anyhow::Result<Self> {
        #[derive(serde::Deserialize)]
        struct Apollo {
            format: String,
            version: u64,
            operations: Vec<ApolloOperation>,
        }
        #[derive(serde::Deserialize)]
        struct ApolloOperation {
            id: String,
            body: String,
        }
        let value: serde_json::Value = serde_json::from_slice(text)?;
        let pairs: Vec<(String, String)> = if value.get("format").is_some() {
            let apollo: Apollo = serde_json::from_value(value)?;
            if apollo.format != "apollo-persisted-query-manifest" || apollo.version != 1 {
                anyhow::bail!(
                    "format {:?} version {} is not apollo-persisted-query-manifest version 1",
                    apollo.format,
                    apollo.version
                );
            }
            apollo
                .operations
                .into_iter()
                .map(|o| (o.id, o.body))
                .collect()
        } else {
            let relay: std::collections::BTreeMap<String, String> = serde_json::from_value(value)
                .map_err(|e| {
                anyhow::anyhow!("neither Apollo's manifest nor a map of id to text: {e}")
            })?;
            relay.into_iter().collect()
        };
        let mut manifest = Self::default();
        for (id, body) in pairs {
            manifest.hashes.insert(hash_of(&body));
            if manifest.by_id.insert(id.clone(), body.into()).is_some() {
                anyhow::bail!("the id {id:?} is listed twice");
            }
        }
        Ok(manifest)
    }

    fn get(&self, id: &str) -> Option<Arc<str>> {
        self.by_id
            .get(id)
            .or_else(|| id.strip_prefix("sha256:").and_then(|h| self.by_id.get(h)))
            .cloned()
    }
}

/// Re-reads the manifest when its file changes, until the engines using it are gone.
async fn watch(
    manifest: std::sync::Weak<ArcSwap<Manifest>>,
    path: PathBuf,
    mut last: Seen,
    every: Duration,
) {
    loop {
        tokio::time::sleep(every).await;
        let Some(manifest) = manifest.upgrade() else {
            return;
        };
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || {
                let text = std::fs::read(&path)?;
                let seen: Seen = Sha256::digest(&text).into();
                Ok::<_, std::io::Error>((seen, (seen != last).then(|| Manifest::parse(&text))))
            })
            .await
        };
        let Ok(read) = read else { continue };
        let (now, parsed) = match read {
            Ok((now, Some(parsed))) => (now, parsed),
            Ok((_, None)) => continue,
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "persisted documents: the manifest cannot be read; keeping the previous one");
                continue;
            }
        };
        match parsed {
            Ok(next) => {
                tracing::info!(
                    path = %path.display(),
                    documents = next.by_id.len(),
                    "persisted documents: the changed manifest is now in use"
                );
                manifest.store(Arc::new(next));
                last = now;
            }
            Err(error) => {
                tracing::error!(path = %path.display(), error = format!("{error:#}"), "persisted documents: the changed manifest is not valid; keeping the previous one");
                last = now;
            }
        }
    }
}

/// Where automatically persisted documents are kept.
enum Store {
    Memory {
        entries: Mutex<LruCache<Hash, (Arc<str>, Instant)>>,
        ttl: Duration,
    },
    Redis {
        link: Link,
        prefix: String,
        ttl_secs: u64,
    },
}

impl Store {
    fn new(config: &ApqConfig) -> anyhow::Result<Option<Self>> {
        if !config.enabled {
            return Ok(None);
        }
        if config.ttl_secs == 0 {
            anyhow::bail!("persisted_documents.apq.ttl_secs must be above 0");
        }
        Ok(Some(match &config.redis {
            Some(redis) => Self::Redis {
                link: Link::new(
                    redis.url.expose(),
                    Duration::from_millis(redis.timeout_ms.max(1)),
                    "persisted query",
                )?,
                prefix: redis.key_prefix.clone(),
                ttl_secs: config.ttl_secs,
            },
            None => Self::Memory {
                entries: Mutex::new(LruCache::new(
                    NonZeroUsize::new(config.max_entries.max(1)).expect("at least one"),
                )),
                ttl: Duration::from_secs(config.ttl_secs),
            },
        }))
    }

    /// The document registered under `hash`; a store that cannot answer is a miss.
    async fn get(&self, hash: &Hash) -> Option<Arc<str>> {
        match self {
            Store::Memory { entries, .. } => {
                let mut entries = entries.lock().unwrap_or_else(PoisonError::into_inner);
                match entries.get(hash) {
                    Some((text, expires)) if *expires > Instant::now() => Some(text.clone()),
                    Some(_) => {
                        entries.pop(hash);
                        None
                    }
                    None => None,
                }
            }
            Store::Redis { link, prefix, .. } => {
                let key = format!("{prefix}:{}", hex::encode(hash));
                let reply: Option<String> = redis_call(link, redis::cmd("GET").arg(&key)).await?;
                let text = reply?;
                // What Redis holds is checked like what a client sends.
                (hash_of(&text) == *hash).then(|| text.into())
            }
        }
    }

    /// Keeps `text` under `hash` (checked by the caller); a store that cannot keep it is
    /// logged, and the client registers again on its next miss.
    async fn put(&self, hash: &Hash, text: &str) {
        match self {
            Store::Memory { entries, ttl } => {
                entries
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .put(*hash, (text.into(), Instant::now() + *ttl));
            }
            Store::Redis {
                link,
                prefix,
                ttl_secs,
            } => {
                let key = format!("{prefix}:{}", hex::encode(hash));
                let stored: Option<()> = redis_call(
                    link,
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(text)
                        .arg("EX")
                        .arg(*ttl_secs),
                )
                .await;
                if stored.is_none() {
                    tracing::debug!(
                        "persisted documents: Redis did not keep a registered document"
                    );
                }
            }
        }
    }
}

/// Runs `command` on `link` within its timeout; `None` when Redis did not answer.
async fn redis_call<T: redis::FromRedisValue>(link: &Link, command: &redis::Cmd) -> Option<T> {
    let deadline = Instant::now() + link.timeout();
    let (mut connection, generation) = match link.connect(deadline).await {
        Ok(connected) => connected,
        Err(error) => {
            tracing::debug!(error = %error, "persisted documents: Redis is not reachable");
            return None;
        }
    };
    match timeout_at(deadline, command.query_async::<T>(&mut connection)).await {
        Ok(Ok(reply)) => Some(reply),
        Ok(Err(error)) => {
            tracing::debug!(error = %error, "persisted documents: Redis refused a command");
            if error.is_io_error() || error.is_connection_dropped() {
                link.fail(generation);
            }
            None
        }
        Err(_) => {
            link.fail(generation);
            None
        }
    }
}
