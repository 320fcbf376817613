//! Tokens already verified, so a client repeating its token costs a hash and a lookup instead
//! of a signature check.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

use super::Identity;
use super::token::Validity;

/// A verified token and what it takes to trust it again.
#[derive(Clone)]
pub(super) struct Verified {
    pub(super) identity: Identity,
    pub(super) validity: Validity,
    /// The key-set generation that verified it.
    pub(super) generation: u64,
}

/// An LRU of verified tokens keyed by a hash of their text. A hit compares the whole token, so
/// a hash collision is only a miss.
pub(super) struct VerifiedTokens {
    hasher: ahash::RandomState,
    entries: Mutex<LruCache<u64, Verified>>,
}

impl VerifiedTokens {
    /// `None` when `capacity` is 0: no cache.
    pub(super) fn new(capacity: usize) -> Option<Self> {
        Some(Self {
            hasher: ahash::RandomState::new(),
            entries: Mutex::new(LruCache::new(NonZeroUsize::new(capacity)?)),
        })
    }

    /// The entry for `token` if it was verified under key-set `generation`.
    pub(super) fn get(&self, token: &str, generation: u64) -> Option<Verified> {
        let hash = self.hasher.hash_one(token.as_bytes());
        let mut entries = self.lock();
        let hit = entries.get(&hash)?;
        if &*hit.identity.token != token {
            return None;
        }
        if hit.generation != generation {
            entries.pop(&hash);
            return None;
        }
        Some(hit.clone())
    }

    pub(super) fn insert(&self, verified: Verified) {
        let hash = self.hasher.hash_one(verified.identity.token.as_bytes());
        self.lock().put(hash, verified);
    }

    pub(super) fn remove(&self, token: &str) {
        let hash = self.hasher.hash_one(token.as_bytes());
        let mut entries = self.lock();
        if entries
            .peek(&hash)
            .is_some_and(|hit| &*hit.identity.token == token)
        {
            entries.pop(&hash);
        }
    }

    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Verified>> {
        // The cache holds no invariant a panicking holder could break; keep serving.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
