//! The in-process cache adapter: a map with TTLs read from a [`Clock`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use seam_core::{SharedClock, SystemClock};

use crate::{Cache, Result, ttl_millis, validate_key};

/// An in-process [`Cache`]: the embedded default and the fake for tests.
///
/// Expiry is read from a [`Clock`](seam_core::Clock), so a test can drive it with a
/// [`ManualClock`](seam_core::ManualClock): an entry whose TTL has passed is invisible
/// (and removed on the next access). With a maximum number of entries, storing a new
/// key into a full cache first drops expired entries, then evicts the least recently
/// used one.
///
/// Clones, and caches made with [`with_prefix`](Self::with_prefix), share one store;
/// caches with different prefixes do not see each other's keys, like two deployments
/// sharing a Redis server.
#[derive(Clone)]
pub struct InMemoryCache {
    store: Arc<Store>,
    prefix: String,
}

struct Store {
    clock: SharedClock,
    max_entries: Option<usize>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Incremented on every access; the entry with the lowest `used` is evicted first.
    tick: u64,
}

struct Entry {
    value: Vec<u8>,
    expires_at: Option<Instant>,
    used: u64,
}

impl fmt::Debug for InMemoryCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryCache")
            .field("prefix", &self.prefix)
            .field("max_entries", &self.store.max_entries)
            .field("entries", &self.store.state().entries.len())
            .finish()
    }
}

impl Default for InMemoryCache {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryCache {
    /// An unbounded cache on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock::shared())
    }

    /// An unbounded cache whose TTLs are measured on `clock`.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            store: Arc::new(Store {
                clock,
                max_entries: None,
                state: Mutex::new(State::default()),
            }),
            prefix: String::new(),
        }
    }

    /// A cache on `clock` holding at most `max_entries` entries (at least one).
    pub fn bounded(clock: SharedClock, max_entries: usize) -> Self {
        Self {
            store: Arc::new(Store {
                clock,
                max_entries: Some(max_entries.max(1)),
                state: Mutex::new(State::default()),
            }),
            prefix: String::new(),
        }
    }

    /// A view of the same store whose keys live under `prefix`, isolated from the
    /// keys of other prefixes.
    pub fn with_prefix(&self, prefix: impl Into<String>) -> Self {
        Self {
            store: Arc::clone(&self.store),
            prefix: prefix.into(),
        }
    }

    /// How many entries the whole store holds, expired ones not yet dropped included.
    pub fn len(&self) -> usize {
        self.store.state().entries.len()
    }

    /// Whether the whole store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn full_key(&self, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

impl Store {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the map consistent, so a poisoned lock is usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Removes `key` if it has expired; returns whether a live entry remains.
    fn live(&mut self, key: &str, now: Instant) -> bool {
        match self.entries.get(key) {
            None => false,
            Some(entry) if entry.expires_at.is_some_and(|at| at <= now) => {
                self.entries.remove(key);
                false
            }
            Some(_) => true,
        }
    }

    fn make_room(&mut self, max_entries: usize, now: Instant) {
        if self.entries.len() < max_entries {
            return;
        }
        self.entries
            .retain(|_, entry| entry.expires_at.is_none_or(|at| at > now));
        while self.entries.len() >= max_entries {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| key.clone())
            else {
                return;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[async_trait]
impl Cache for InMemoryCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let key = self.full_key(key)?;
        let now = self.store.clock.now();
        let mut state = self.store.state();
        if !state.live(&key, now) {
            return Ok(None);
        }
        let tick = state.next_tick();
        Ok(state.entries.get_mut(&key).map(|entry| {
            entry.used = tick;
            entry.value.clone()
        }))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        let key = self.full_key(key)?;
        let ttl = ttl
            .map(|ttl| ttl_millis(ttl).map(Duration::from_millis))
            .transpose()?;
        let now = self.store.clock.now();
        let mut state = self.store.state();
        if let Some(max) = self.store.max_entries
            && !state.entries.contains_key(&key)
        {
            state.make_room(max, now);
        }
        let used = state.next_tick();
        state.entries.insert(
            key,
            Entry {
                value: value.to_vec(),
                expires_at: ttl.and_then(|ttl| now.checked_add(ttl)),
                used,
            },
        );
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        let key = self.full_key(key)?;
        let now = self.store.clock.now();
        let mut state = self.store.state();
        let live = state.live(&key, now);
        state.entries.remove(&key);
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use seam_core::ManualClock;

    use super::*;

    #[tokio::test]
    async fn evicts_least_recently_used_when_full() {
        let clock = ManualClock::new();
        let cache = InMemoryCache::bounded(clock.shared(), 2);
        cache.set("a", b"1", None).await.unwrap();
        cache.set("b", b"2", None).await.unwrap();
        // Touch `a`, so `b` is the least recently used.
        assert!(cache.get("a").await.unwrap().is_some());
        cache.set("c", b"3", None).await.unwrap();
        assert_eq!(cache.len(), 2);
        assert!(cache.get("b").await.unwrap().is_none());
        assert!(cache.get("a").await.unwrap().is_some());
        assert!(cache.get("c").await.unwrap().is_some());
        // Overwriting an existing key never evicts.
        cache.set("c", b"4", None).await.unwrap();
        assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"1"[..]));
    }

    #[tokio::test]
    async fn expired_entries_make_room_first() {
        let clock = ManualClock::new();
        let cache = InMemoryCache::bounded(clock.shared(), 2);
        cache.set("keep", b"1", None).await.unwrap();
        cache
            .set("soon", b"2", Some(Duration::from_secs(1)))
            .await
            .unwrap();
        // Make `keep` the least recently used, then let `soon` expire.
        cache.get("soon").await.unwrap();
        clock.advance(Duration::from_secs(2));
        cache.set("new", b"3", None).await.unwrap();
        assert!(cache.get("keep").await.unwrap().is_some());
        assert!(cache.get("new").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn expired_entry_is_not_deleted_twice() {
        let clock = ManualClock::new();
        let cache = InMemoryCache::with_clock(clock.shared());
        cache
            .set("k", b"v", Some(Duration::from_millis(10)))
            .await
            .unwrap();
        clock.advance(Duration::from_millis(10));
        assert!(!cache.delete("k").await.unwrap());
        assert!(cache.is_empty());
    }

    #[tokio::test]
    async fn prefixes_share_the_store() {
        let cache = InMemoryCache::new();
        let other = cache.with_prefix("other:");
        other.set("k", b"v", None).await.unwrap();
        assert_eq!(cache.len(), 1);
        assert!(cache.get("k").await.unwrap().is_none());
        assert!(cache.get("other:k").await.unwrap().is_some());
    }
}
