//! Who the caller is: bearer JWTs verified against the keys of one or more JWKS sources.
//!
//! - [`token`]: the token found in the request, split and decoded, its claims checked.
//! - [`keys`]: JWKS documents read into keys; the key, not the token, decides the algorithm.
//! - [`cache`]: tokens already verified, trusted again until they expire or the keys change.
//!
//! A token without `kid` is tried against every key that fits its algorithm (a key set holds
//! few keys, and single-key issuers often leave `kid` out).
//!
//! URL sources are polled in the background and fetched again when a token names an unknown
//! `kid` (key rotation). Those refreshes are rate limited: at most one per
//! `min_refresh_interval_ms`, shared by every request waiting on it, so a flood of made-up
//! `kid`s costs the identity provider one request per interval. A source that cannot be
//! reached keeps its previous keys.

mod cache;
mod error;
mod identity;
mod keys;
mod token;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use anyhow::{Context as _, ensure};
use arc_swap::ArcSwap;
use http::HeaderMap;
use jsonwebtoken::Algorithm;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

pub use error::JwtError;
pub use identity::Identity;

use crate::config::jwt::{JwksSource, JwtConfig};
use cache::{Verified, VerifiedTokens};
use keys::{Key, KeySet, Selection, SourceKeys};
use token::TokenLocation;

/// The largest JWKS document accepted from a URL.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// Seconds since the Unix epoch; replaceable so tests can move time.
type Clock = Box<dyn Fn() -> u64 + Send + Sync>;

/// Verifies the tokens of incoming requests. Built once per configuration; a configuration
/// reload builds a new one (and the old one's polling stops when it is dropped).
pub struct Authenticator {
    required: bool,
    algorithms: Vec<Algorithm>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway_secs: u64,
    location: TokenLocation,
    /// The keys each source last gave, in configuration order.
    sources: Mutex<Vec<SourceKeys>>,
    urls: Vec<UrlSource>,
    /// All sources' keys merged; replaced whole whenever a source's keys change.
    keys: ArcSwap<KeySet>,
    refresh: tokio::sync::Mutex<RefreshSlot>,
    /// Refreshes started so far, so a waiting request can tell whether one began after it
    /// arrived.
    refreshes_started: AtomicU64,
    min_refresh_interval: Duration,
    http: reqwest::Client,
    verified: Option<VerifiedTokens>,
    now: Clock,
    started: AtomicBool,
    /// Dropped with the authenticator, which ends the polling tasks.
    shutdown: watch::Sender<()>,
}

struct UrlSource {
    /// The source's index in `sources`.
    slot: usize,
    url: reqwest::Url,
    poll_interval: Duration,
    timeout: Duration,
}

/// The keys that may have signed a token, and the generation of the set they came from.
struct Candidates {
    generation: u64,
    keys: Vec<Arc<Key>>,
}

/// The last unknown-`kid` refresh.
#[derive(Default)]
struct RefreshSlot {
    started_at: Option<Instant>,
    /// Whether any URL source answered it.
    reached_any: bool,
}

impl Authenticator {
    /// Builds from config; reads file sources now (error if unreadable/invalid). URL sources
    /// are fetched by [`start`](Self::start)'s polling, or on the first token whose key is not
    /// known yet.
    pub fn new(config: &JwtConfig) -> anyhow::Result<Arc<Self>> {
        ensure!(
            !config.sources.is_empty(),
            "jwt.sources lists no JWKS source"
        );
        ensure!(!config.algorithms.is_empty(), "jwt.algorithms is empty");
        let mut sources = Vec::with_capacity(config.sources.len());
        let mut urls = Vec::new();
        for source in &config.sources {
            match source {
                JwksSource::File(file) => {
                    let path = file.file.display().to_string();
                    let document = std::fs::read(&file.file)
                        .with_context(|| format!("cannot read the JWKS file {path}"))?;
                    let keys = SourceKeys::parse(&document, &path, &config.algorithms)
                        .with_context(|| format!("invalid JWKS file {path}"))?;
                    sources.push(keys);
                }
                JwksSource::Url(source) => {
                    let url = reqwest::Url::parse(&source.url)
                        .with_context(|| format!("invalid JWKS URL {:?}", source.url))?;
                    ensure!(
                        source.poll_interval_secs > 0,
                        "poll_interval_secs of {url} must be at least 1"
                    );
                    ensure!(
                        source.timeout_ms > 0,
                        "timeout_ms of {url} must be at least 1"
                    );
                    urls.push(UrlSource {
                        slot: sources.len(),
                        url,
                        poll_interval: Duration::from_secs(source.poll_interval_secs),
                        timeout: Duration::from_millis(source.timeout_ms),
                    });
                    sources.push(SourceKeys::default());
                }
            }
        }
        let http = reqwest::Client::builder()
            .build()
            .context("cannot build the JWKS HTTP client")?;
        Ok(Arc::new(Self {
            required: config.required,
            algorithms: config.algorithms.clone(),
            issuers: config.issuers.clone(),
            audiences: config.audiences.clone(),
            leeway_secs: config.leeway_secs,
            location: TokenLocation::new(config)?,
            keys: ArcSwap::from_pointee(KeySet::merge(0, &sources)),
            sources: Mutex::new(sources),
            urls,
            refresh: tokio::sync::Mutex::new(RefreshSlot::default()),
            refreshes_started: AtomicU64::new(0),
            min_refresh_interval: Duration::from_millis(config.min_refresh_interval_ms),
            http,
            verified: VerifiedTokens::new(config.cache_size),
            now: Box::new(unix_now),
            started: AtomicBool::new(false),
            shutdown: watch::Sender::new(()),
        }))
    }

    /// Spawns one polling task per URL source (the first poll is immediate). The tasks hold
    /// only a `Weak` and end when the authenticator is dropped. Calling it again does nothing.
    /// Outside a Tokio runtime it does nothing.
    pub fn start(self: &Arc<Self>) {
        // Outside a runtime (an engine built by synchronous code) there is nothing to poll
        // with; unknown `kid`s still trigger fetches from request handling.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        for index in 0..self.urls.len() {
            runtime.spawn(poll(
                Arc::downgrade(self),
                index,
                self.urls[index].poll_interval,
                self.shutdown.subscribe(),
            ));
        }
    }

    /// The caller named by the request's token: Ok(None) when there is no token and it is not
    /// required.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Identity>, JwtError> {
        match self.location.find(headers)? {
            Some(token) => self.verify(token).await.map(Some),
            None if self.required => Err(JwtError::Missing),
            None => Ok(None),
        }
    }

    async fn verify(&self, token: &str) -> Result<Identity, JwtError> {
        if let Some(cache) = &self.verified
            && let Some(hit) = cache.get(token, self.keys.load().generation)
        {
            return match hit.validity.check((self.now)(), self.leeway_secs) {
                Ok(()) => Ok(hit.identity),
                Err(err) => {
                    cache.remove(token);
                    Err(err)
                }
            };
        }
        let unverified = token::decode(token, &self.algorithms)?;
        let alg = unverified.alg;
        let candidates = self.candidates(unverified.kid.as_deref(), alg).await?;
        let signed = unverified.signed.as_bytes();
        if !candidates
            .keys
            .iter()
            .any(|key| key.verifies(signed, unverified.signature, alg))
        {
            return Err(JwtError::BadSignature);
        }
        unverified.validity.check((self.now)(), self.leeway_secs)?;
        token::check_audience_and_issuer(&unverified.claims, &self.issuers, &self.audiences)?;
        let identity = Identity {
            token: Arc::from(token),
            claims: Arc::new(unverified.claims),
        };
        if let Some(cache) = &self.verified {
            cache.insert(Verified {
                identity: identity.clone(),
                validity: unverified.validity,
                generation: candidates.generation,
            });
        }
        Ok(identity)
    }

    /// The keys that may have signed a token. An unknown key triggers one refresh of the URL
    /// sources.
    async fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Result<Candidates, JwtError> {
        if let Some(found) = self.select(kid, alg)? {
            return Ok(found);
        }
        let reached = self.refresh_for_unknown_key(kid, alg).await;
        match self.select(kid, alg)? {
            Some(found) => Ok(found),
            None if reached => Err(JwtError::UnknownKey),
            None => Err(JwtError::KeysUnavailable),
        }
    }

    fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<Candidates>, JwtError> {
        let set = self.keys.load();
        match set.select(kid, alg) {
            Selection::Found(keys) => Ok(Some(Candidates {
                generation: set.generation,
                keys,
            })),
            Selection::Incompatible => Err(JwtError::AlgorithmNotAllowed),
            Selection::Unknown => Ok(None),
        }
    }

    /// Fetches every URL source again because a token named an unknown key; returns whether
    /// the keys are current (some source answered, or there is none to ask). Refreshes start
    /// at least `min_refresh_interval` apart: a request arriving sooner waits for the next
    /// slot rather than failing, and every request waiting meanwhile shares that one fetch.
    async fn refresh_for_unknown_key(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        if self.urls.is_empty() {
            return true;
        }
        let arrived = self.refreshes_started.load(Ordering::SeqCst);
        let mut slot = self.refresh.lock().await;
        if !matches!(self.keys.load().select(kid, alg), Selection::Unknown) {
            // The refresh (or poll) that ran while this request waited brought the key.
            return true;
        }
        if self.refreshes_started.load(Ordering::SeqCst) != arrived {
            // A refresh began after this request arrived and has finished: its keys are as
            // fresh as another fetch's would be.
            return slot.reached_any;
        }
        if let Some(wait) = slot
            .started_at
            .and_then(|at| self.min_refresh_interval.checked_sub(at.elapsed()))
        {
            tokio::time::sleep(wait).await;
        }
        self.refreshes_started.fetch_add(1, Ordering::SeqCst);
        slot.started_at = Some(Instant::now());
        let fetches = self.urls.iter().map(|source| self.fetch(source));
        slot.reached_any = futures::future::join_all(fetches)
            .await
            .into_iter()
            .any(|reached| reached);
        slot.reached_any
    }

    /// Fetches one URL source and installs its keys; on failure logs once and keeps the
    /// previous keys. Returns whether the source answered with a JWKS.
    async fn fetch(&self, source: &UrlSource) -> bool {
        match self.download(source).await {
            Ok(keys) => {
                self.install(source.slot, keys, source.url.as_str());
                true
            }
            Err(err) => {
                tracing::warn!(
                    source = %source.url,
                    error = format!("{err:#}"),
                    "JWKS fetch failed; keeping the previous keys"
                );
                false
            }
        }
    }

    async fn download(&self, source: &UrlSource) -> anyhow::Result<SourceKeys> {
        let mut response = self
            .http
            .get(source.url.clone())
            .timeout(source.timeout)
            .send()
            .await
            .context("request failed")?
            .error_for_status()?;
        let mut document = Vec::new();
        while let Some(chunk) = response.chunk().await.context("reading the body failed")? {
            ensure!(
                document.len() + chunk.len() <= MAX_JWKS_BYTES,
                "the JWKS is larger than {MAX_JWKS_BYTES} bytes"
            );
            document.extend_from_slice(&chunk);
        }
        SourceKeys::parse(&document, source.url.as_str(), &self.algorithms)
    }

    /// Replaces one source's keys. If they changed, the merged set gets a new generation and
    /// the verified-token cache is emptied: a key that disappeared must not keep validating
    /// the tokens it signed.
    fn install(&self, slot: usize, keys: SourceKeys, origin: &str) {
        let mut sources = self.sources.lock().unwrap_or_else(PoisonError::into_inner);
        if sources[slot].same_as(&keys) {
            return;
        }
        let count = keys.len();
        sources[slot] = keys;
        let generation = self.keys.load().generation + 1;
        self.keys
            .store(Arc::new(KeySet::merge(generation, sources.iter())));
        drop(sources);
        if let Some(cache) = &self.verified {
            cache.clear();
        }
        tracing::info!(source = origin, keys = count, "JWKS keys changed");
    }
}

/// Polls one URL source every `period` until the authenticator is dropped.
async fn poll(
    authenticator: Weak<Authenticator>,
    index: usize,
    period: Duration,
    mut shutdown: watch::Receiver<()>,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.changed() => return,
        }
        let Some(authenticator) = authenticator.upgrade() else {
            return;
        };
        authenticator.fetch(&authenticator.urls[index]).await;
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}
