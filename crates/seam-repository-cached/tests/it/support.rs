//! Test doubles: a repository that counts (and can pause) its reads, caches that fail.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use seam_cache::{Cache, DynCache};
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::memory::MemoryRepositories;
use seam_repository::{Page, RepositoryPorts, Result, UserQuery, UserRepository, UserUpdate};
use seam_repository_cached::CachedUserRepository;
use tokio::sync::oneshot;

/// Memory repositories whose `users` go through the decorator over `cache`.
pub(crate) fn cached_ports(cache: Arc<DynCache>, ttl: Duration) -> RepositoryPorts {
    let mut ports = MemoryRepositories::new().ports();
    let cached = CachedUserRepository::new(ports.users.clone(), cache, ttl).expect("valid TTL");
    ports.users = Arc::new(cached);
    ports
}

/// Pauses the next `get` after it has read, until released.
#[derive(Debug)]
struct Gate {
    read: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// A user repository over memory that counts the calls reaching it.
#[derive(Debug, Default)]
pub(crate) struct Counting {
    pub(crate) inner: MemoryRepositories,
    gets: AtomicUsize,
    finds: AtomicUsize,
    lists: AtomicUsize,
    gate: Mutex<Option<Gate>>,
}

impl Counting {
    pub(crate) fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    pub(crate) fn finds(&self) -> usize {
        self.finds.load(Ordering::SeqCst)
    }

    pub(crate) fn lists(&self) -> usize {
        self.lists.load(Ordering::SeqCst)
    }

    /// Makes the next `get` pause once it has read the user: the first receiver
    /// completes when it has, and sending on the returned sender lets it finish.
    pub(crate) fn pause_next_get(&self) -> (oneshot::Receiver<()>, oneshot::Sender<()>) {
        let (read, read_rx) = oneshot::channel();
        let (release_tx, release) = oneshot::channel();
        *self.gate.lock().unwrap() = Some(Gate { read, release });
        (read_rx, release_tx)
    }
}

#[async_trait]
impl UserRepository for Counting {
    async fn create(&self, user: NewUser) -> Result<User> {
        self.inner.create(user).await
    }

    async fn get(&self, id: UserId) -> Result<User> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let user = self.inner.get(id).await;
        let gate = self.gate.lock().unwrap().take();
        if let Some(gate) = gate {
            let _ = gate.read.send(());
            let _ = gate.release.await;
        }
        user
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.inner.find_by_email(email).await
    }

    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User> {
        self.inner.update(id, expected_version, changes).await
    }

    async fn delete(&self, id: UserId) -> Result<()> {
        self.inner.delete(id).await
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(query).await
    }
}

/// A cache whose every call fails as a cache that is down does.
#[derive(Debug)]
pub(crate) struct DownCache;

#[async_trait]
impl Cache for DownCache {
    async fn get(&self, _key: &str) -> seam_cache::Result<Option<Vec<u8>>> {
        Err(seam_cache::Error::unavailable("down", "connection refused"))
    }

    async fn set(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Option<Duration>,
    ) -> seam_cache::Result<()> {
        Err(seam_cache::Error::unavailable("down", "connection refused"))
    }

    async fn delete(&self, _key: &str) -> seam_cache::Result<bool> {
        Err(seam_cache::Error::unavailable("down", "connection refused"))
    }
}

/// A cache that refuses every call as invalid (a bug, not an outage).
#[derive(Debug)]
pub(crate) struct RefusingCache;

#[async_trait]
impl Cache for RefusingCache {
    async fn get(&self, _key: &str) -> seam_cache::Result<Option<Vec<u8>>> {
        Err(seam_cache::Error::invalid("refused"))
    }

    async fn set(
        &self,
        _key: &str,
        _value: &[u8],
        _ttl: Option<Duration>,
    ) -> seam_cache::Result<()> {
        Err(seam_cache::Error::invalid("refused"))
    }

    async fn delete(&self, _key: &str) -> seam_cache::Result<bool> {
        Err(seam_cache::Error::invalid("refused"))
    }
}
