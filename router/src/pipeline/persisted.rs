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
    /// Documents `log` mode has logged lately, so each is logged once.
    logged: Mutex<LruCache<Hash, ()>>,
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
    ///
    /// On a reload (`previous`, the persisted documents of the engine being replaced), a
    /// manifest at the same path that does not read (a file caught half-written) keeps the
    /// previous one, which its watcher goes on looking at, rather than failing the reload.
    pub fn new(
        config: &PersistedDocumentsConfig,
        watch_every: Option<Duration>,
        previous: Option<&Persisted>,
    ) -> anyhow::Result<Arc<Self>> {
        let (manifest, seen) = match &config.manifest {
            Some(path) => match Manifest::load(path) {
                Ok((manifest, seen)) => (Arc::new(ArcSwap::from_pointee(manifest)), Some(seen)),
                Err(error) => match previous.filter(|p| p.config.manifest == config.manifest) {
                    Some(previous) => {
                        tracing::error!(
                            error = format!("{error:#}"),
                            "persisted documents: the manifest does not read; keeping the previous one"
                        );
                        (previous.manifest.clone(), None)
                    }
                    None => return Err(error),
                },
            },
            None => (Arc::new(ArcSwap::from_pointee(Manifest::default())), None),
        };
        let persisted = Arc::new(Self {
            manifest,
            store: Store::new(&config.apq)?,
            logged: Mutex::new(LruCache::new(NonZeroUsize::new(4096).expect("not zero"))),
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

    /// The document `request` runs, or why it may not run. A document to register (sent
    /// with its APQ hash) is kept only once the request has passed validation and the limits
    /// ([`Persisted::register`]).
    pub async fn document<'r>(
        &self,
        request: &'r GraphQLRequest,
    ) -> Result<Resolved<'r>, RequestError> {
        let query = request.query.as_deref().filter(|q| !q.trim().is_empty());
        let extension = request
            .extensions
            .as_ref()
            .and_then(|e| e.get("persistedQuery"))
            .filter(|e| !e.is_null());
        if let Some(id) = &request.document_id {
            if query.is_some() || extension.is_some() {
                return Err(RequestError::BadParameter(
                    "send a document's documentId alone, without its text or a persistedQuery hash"
                        .to_owned(),
                ));
            }
            if let Some(text) = self.manifest.load().get(id) {
                return Ok(Resolved::stored(text));
            }
            let hash = id.strip_prefix("sha256:").and_then(parse_hash);
            if let (Some(store), Some(hash)) = (&self.store, hash)
                && self.config.mode != PersistedMode::Safelist
                && let Some(text) = store.get(&hash).await
            {
                self.unlisted(&hash, request);
                return Ok(Resolved::stored(text));
            }
            return Err(RequestError::PersistedQueryNotFound);
        }
        if let Some(extension) = extension {
            let hash = apq_hash(extension)?;
            return match query {
                Some(text) => {
                    if hash_of(text) != hash {
                        return Err(RequestError::PersistedQueryHashMismatch);
                    }
                    self.admit_text(&hash, request)?;
                    let register = (self.store.is_some()
                        && self.config.mode != PersistedMode::Safelist)
                        .then_some(hash);
                    Ok(Resolved {
                        document: Document::Given(text),
                        register,
                    })
                }
                None => {
                    if let Some(text) = self.manifest.load().get(&hex::encode(hash)) {
                        return Ok(Resolved::stored(text));
                    }
                    match &self.store {
                        Some(store) if self.config.mode != PersistedMode::Safelist => {
                            let text = store
                                .get(&hash)
                                .await
                                .ok_or(RequestError::PersistedQueryNotFound)?;
                            self.unlisted(&hash, request);
                            Ok(Resolved::stored(text))
                        }
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
        Ok(Resolved {
            document: Document::Given(text),
            register: None,
        })
    }

    /// Keeps a document sent with its APQ hash, once its request has been validated and
    /// passed the limits. A document larger than `apq.max_document_bytes` is not kept: its
    /// client goes on sending it.
    pub async fn register(&self, hash: &[u8; 32], text: &str) {
        let Some(store) = &self.store else { return };
        if text.len() > self.config.apq.max_document_bytes {
            tracing::debug!(
                bytes = text.len(),
                "persisted documents: a document over apq.max_document_bytes is not kept"
            );
            return;
        }
        store.put(hash, text).await;
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
                    self.unlisted(hash, request);
                }
                Ok(())
            }
        }
    }

    /// In `log` mode, logs a document outside the manifest, once per document (of the last
    /// few thousand seen), with its hash and its operation name cut short.
    fn unlisted(&self, hash: &Hash, request: &GraphQLRequest) {
        if self.config.mode != PersistedMode::Log {
            return;
        }
        if self
            .logged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .put(*hash, ())
            .is_some()
        {
            return;
        }
        let name = request.operation_name.as_deref().unwrap_or("");
        let name: String = name.chars().take(100).collect();
        tracing::info!(
            operation = name,
            hash = %hex::encode(hash),
            "a document outside the persisted document list ran"
        );
    }
}

/// The document a request runs, and whether it is to be registered once it has passed.
#[derive(Debug)]
pub struct Resolved<'r> {
    pub document: Document<'r>,
    /// The APQ hash to keep the document under, after validation and limits.
    pub register: Option<Hash>,
}

impl Resolved<'_> {
    fn stored(text: Arc<str>) -> Self {
        Self {
            document: Document::Stored(text),
            register: None,
        }
    }

    /// The text, when the router supplied it (from the manifest or the store): what a
    /// subscription must keep to be prepared again after a reload.
    pub fn supplied(&self) -> Option<Arc<str>> {
        match &self.document {
            Document::Stored(text) => Some(text.clone()),
            Document::Given(_) => None,
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
        let apollo = value
            .get("format")
            .is_some_and(serde_json::Value::is_string)
            && value
                .get("operations")
                .is_some_and(serde_json::Value::is_array);
        let pairs: Vec<(String, String)> = if apollo {
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
    Memory(Mutex<Memory>),
    Redis {
        link: Link,
        prefix: String,
        ttl_secs: u64,
    },
}

/// The in-process store: least recently used documents go first, by count and by bytes.
struct Memory {
    entries: LruCache<Hash, (Arc<str>, Instant)>,
    bytes: usize,
    max_bytes: usize,
    ttl: Duration,
}

impl Memory {
    fn get(&mut self, hash: &Hash) -> Option<Arc<str>> {
        let now = Instant::now();
        let ttl = self.ttl;
        match self.entries.get_mut(hash) {
            // A hit keeps the document as long again, so that popular ones do not all
            // expire together.
            Some((text, expires)) if *expires > now => {
                *expires = now + ttl;
                Some(text.clone())
            }
            Some(_) => {
                if let Some((text, _)) = self.entries.pop(hash) {
                    self.bytes -= text.len();
                }
                None
            }
            None => None,
        }
    }

    fn put(&mut self, hash: &Hash, text: &str) {
        if let Some((old, _)) = self.entries.pop(hash) {
            self.bytes -= old.len();
        }
        while self.bytes + text.len() > self.max_bytes {
            match self.entries.pop_lru() {
                Some((_, (old, _))) => self.bytes -= old.len(),
                None => return,
            }
        }
        self.bytes += text.len();
        if let Some((_, (evicted, _))) = self
            .entries
            .push(*hash, (text.into(), Instant::now() + self.ttl))
        {
            self.bytes -= evicted.len();
        }
    }
}

impl Store {
    fn new(config: &ApqConfig) -> anyhow::Result<Option<Self>> {
        if !config.enabled {
            return Ok(None);
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
            None => Self::Memory(Mutex::new(Memory {
                entries: LruCache::new(
                    NonZeroUsize::new(config.max_entries.max(1)).expect("at least one"),
                ),
                bytes: 0,
                max_bytes: config.max_bytes,
                ttl: Duration::from_secs(config.ttl_secs),
            })),
        }))
    }

    /// The document registered under `hash`; a store that cannot answer is a miss. A hit
    /// keeps the document for another TTL.
    async fn get(&self, hash: &Hash) -> Option<Arc<str>> {
        match self {
            Store::Memory(memory) => memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(hash),
            Store::Redis {
                link,
                prefix,
                ttl_secs,
            } => {
                let key = redis_key(prefix, hash);
                let reply: Option<String> =
                    redis_call(link, redis::cmd("GETEX").arg(&key).arg("EX").arg(*ttl_secs))
                        .await?;
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
            Store::Memory(memory) => memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .put(hash, text),
            Store::Redis {
                link,
                prefix,
                ttl_secs,
            } => {
                let key = redis_key(prefix, hash);
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

/// Where Redis keeps the document of `hash`.
fn redis_key(prefix: &str, hash: &Hash) -> String {
    format!("{prefix}:{}", hex::encode(hash))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn memory(max_entries: usize, max_bytes: usize) -> Memory {
        Memory {
            entries: LruCache::new(NonZeroUsize::new(max_entries).expect("not zero")),
            bytes: 0,
            max_bytes,
            ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn the_memory_store_is_bounded_by_bytes_and_by_count() {
        let mut store = memory(3, 10);
        let (a, b, c, d) = ([1; 32], [2; 32], [3; 32], [4; 32]);
        store.put(&a, "aaaa");
        store.put(&b, "bbbb");
        assert_eq!(store.bytes, 8);
        // Over the bytes: the least recently used goes.
        store.put(&c, "cccc");
        assert!(store.get(&a).is_none());
        assert_eq!(store.bytes, 8);
        // Replacing an entry counts its new size only.
        store.put(&c, "cc");
        assert_eq!(store.bytes, 6);
        // Over the count.
        store.put(&d, "d");
        store.put(&a, "a");
        assert_eq!(store.entries.len(), 3);
        assert_eq!(
            store.bytes,
            store
                .entries
                .iter()
                .map(|(_, (t, _))| t.len())
                .sum::<usize>()
        );
        // A document larger than the whole store is not kept.
        store.put(&[5; 32], "0123456789abc");
        assert!(store.get(&[5; 32]).is_none());
    }

    #[test]
    fn a_manifest_is_apollos_only_with_its_format_and_operations() {
        let relay =
            Manifest::parse(br#"{"format": "query F { a }", "x": "{ b }"}"#).expect("Relay");
        assert_eq!(relay.get("format").as_deref(), Some("query F { a }"));
        let apollo = Manifest::parse(
            br#"{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"h","body":"{ a }","name":"A","type":"query"}]}"#,
        )
        .expect("Apollo");
        assert_eq!(apollo.get("h").as_deref(), Some("{ a }"));
        assert_eq!(apollo.get("sha256:h").as_deref(), Some("{ a }"));
        assert!(apollo.hashes.contains(&hash_of("{ a }")));
        assert!(Manifest::parse(br#"{"a": 1}"#).is_err());
        assert!(Manifest::parse(br#"[]"#).is_err());
        assert!(
            Manifest::parse(br#"{"format":"other","version":1,"operations":[]}"#).is_err(),
            "an unknown format is refused, not read as Relay's"
        );
    }
}
