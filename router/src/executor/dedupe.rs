//! Sharing one subgraph request among identical queries in flight at the same time.
//!
//! Requests are identical when they go to the same subgraph with the same body and the same
//! forwarded headers, compared in full: the hash only picks the bucket, so two requests whose
//! hashes collide never share an answer. The first request of a kind (the leader) sends it;
//! the others wait on the same future. Whoever is still waiting drives that future, so a
//! leader whose client goes away does not stall the rest. The leader's entry leaves the map
//! when the leader finishes or is dropped, whichever comes first, so a later request never
//! joins an answer that is already given or a request that nobody waits on any more.
//!
//! What is shared is whatever the request's future gives: the executor shares the answer
//! already read as GraphQL, so that the waiters of one request do not each parse its body.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use http::HeaderMap;

/// A subgraph request in flight that later identical requests wait on, giving `T`.
pub(super) type InFlight<T> = Shared<BoxFuture<'static, T>>;

/// One subgraph request in full, with its hash worked out once.
#[derive(Clone)]
pub(super) struct Key(Arc<KeyParts>);

struct KeyParts {
    hash: u64,
    subgraph: usize,
    body: Bytes,
    headers: HeaderMap,
}

impl Key {
    pub(super) fn new(
        hasher: &ahash::RandomState,
        subgraph: usize,
        body: Bytes,
        headers: HeaderMap,
    ) -> Self {
        let mut h = hasher.build_hasher();
        subgraph.hash(&mut h);
        body.hash(&mut h);
        for (name, value) in &headers {
            name.as_str().hash(&mut h);
            value.as_bytes().hash(&mut h);
        }
        let hash = h.finish();
        Self::with_hash(hash, subgraph, body, headers)
    }

    fn with_hash(hash: u64, subgraph: usize, body: Bytes, headers: HeaderMap) -> Self {
        Key(Arc::new(KeyParts {
            hash,
            subgraph,
            body,
            headers,
        }))
    }

    pub(super) fn subgraph(&self) -> usize {
        self.0.subgraph
    }

    pub(super) fn body(&self) -> Bytes {
        self.0.body.clone()
    }

    pub(super) fn headers(&self) -> HeaderMap {
        self.0.headers.clone()
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&*self.0, &*other.0);
        // Headers in order, as they were hashed: equal keys always hash alike.
        Arc::ptr_eq(&self.0, &other.0)
            || (a.hash == b.hash
                && a.subgraph == b.subgraph
                && a.body == b.body
                && a.headers.len() == b.headers.len()
                && a.headers.iter().eq(b.headers.iter()))
    }
}

impl Eq for Key {}

/// The requests in flight, by request.
pub(super) struct Table<T: Clone> {
    map: Mutex<HashMap<Key, InFlight<T>, ahash::RandomState>>,
}

impl<T: Clone> Default for Table<T> {
    fn default() -> Self {
        Self {
            map: Mutex::default(),
        }
    }
}

impl<T: Clone> Table<T> {
    /// Joins the request in flight for `key`, or starts one with `start`. The guard, when the
    /// caller is the leader, takes the entry out again when dropped.
    pub(super) fn join(
        self: &Arc<Self>,
        key: Key,
        start: impl FnOnce(&Key) -> BoxFuture<'static, T>,
    ) -> (InFlight<T>, Option<Leader<T>>) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(shared) = map.get(&key) {
            return (shared.clone(), None);
        }
        let future = start(&key).shared();
        map.insert(key.clone(), future.clone());
        let leader = Leader {
            table: self.clone(),
            key,
            future: future.clone(),
        };
        (future, Some(leader))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Held by the request that started a shared request: removes its entry when dropped
/// (finished or cancelled), and only its own, not a newer one under the same key.
pub(super) struct Leader<T: Clone> {
    table: Arc<Table<T>>,
    key: Key,
    future: InFlight<T>,
}

impl<T: Clone> Drop for Leader<T> {
    fn drop(&mut self) {
        let mut map = self.table.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|current| current.ptr_eq(&self.future))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fetch::{Answer, FetchError};
    use super::*;

    type Table = super::Table<Result<Answer, FetchError>>;

    fn ok(body: &'static str) -> Answer {
        Answer {
            status: 200,
            body: Bytes::from_static(body.as_bytes()),
            headers: HeaderMap::new(),
        }
    }

    fn answer(body: &'static str) -> BoxFuture<'static, Result<Answer, FetchError>> {
        async move { Ok(ok(body)) }.boxed()
    }

    #[tokio::test]
    async fn requests_whose_hashes_collide_do_not_share_an_answer() {
        let table = Arc::new(Table::default());
        let first = Key::with_hash(7, 0, Bytes::from_static(b"{a}"), HeaderMap::new());
        let second = Key::with_hash(7, 0, Bytes::from_static(b"{b}"), HeaderMap::new());
        let (a, _lead_a) = table.join(first, |_| answer("A"));
        let (b, lead_b) = table.join(second, |_| answer("B"));
        assert!(lead_b.is_some(), "a different request starts its own fetch");
        assert_eq!(a.await.expect("A").body, "A");
        assert_eq!(b.await.expect("B").body, "B");
    }

    #[tokio::test]
    async fn identical_requests_share_and_the_entry_leaves_with_its_leader() {
        let table = Arc::new(Table::default());
        let hasher = ahash::RandomState::new();
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "Bearer x".parse().expect("header"));
        let key = Key::new(&hasher, 1, Bytes::from_static(b"{a}"), headers);
        let again = Key::new(&hasher, key.subgraph(), key.body(), key.headers());
        let (_, leader) = table.join(key.clone(), |_| futures::future::pending().boxed());
        let (_, follower) = table.join(again, |_| answer("never started"));
        assert!(leader.is_some() && follower.is_none());
        assert_eq!(table.len(), 1);
        drop(leader);
        assert_eq!(table.len(), 0, "a dropped leader takes its entry out");

        // A stale guard leaves a newer entry under the same key alone.
        let (_, old) = table.join(key.clone(), |_| futures::future::pending().boxed());
        let old = old.expect("leads");
        table.map.lock().expect("lock").clear();
        let (_, new) = table.join(key, |_| futures::future::pending().boxed());
        drop(old);
        assert_eq!(table.len(), 1, "the newer entry stays");
        drop(new);
        assert_eq!(table.len(), 0);
    }

    #[tokio::test]
    async fn a_follower_drives_the_request_its_leader_left() {
        let table = Arc::new(Table::default());
        let key = Key::with_hash(1, 0, Bytes::from_static(b"{a}"), HeaderMap::new());
        let (tx, rx) = tokio::sync::oneshot::channel::<&'static str>();
        let (leading, leader) = table.join(key.clone(), move |_| {
            async move {
                let body = rx.await.expect("sent");
                Ok(ok(body))
            }
            .boxed()
        });
        let (following, _) = table.join(key.clone(), |_| answer("never started"));
        drop((leading, leader));
        assert_eq!(table.len(), 0);
        tx.send("shared").expect("still awaited");
        assert_eq!(following.await.expect("answer").body, "shared");
    }
}
