//! A read-through cache in front of the user repository.
//!
//! [`CachedUserRepository`] decorates any [`UserRepository`] with a
//! [`Cache`](seam_cache::Cache): `get` and `find_by_email` are answered from the cache
//! when they can be, and fill it when they cannot; `update` and `delete` drop the
//! entries they make stale once the write has succeeded; `create` primes the cache;
//! `list` always goes to the repository. A cache that is down never fails a request:
//! the decorator wraps it in [`BypassOnError`] and falls back to the repository.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use seam_cache::InMemoryCache;
//! use seam_domain::{EmailAddress, NewUser};
//! use seam_repository::UserRepository;
//! use seam_repository::memory::MemoryRepositories;
//! use seam_repository_cached::CachedUserRepository;
//!
//! let users = CachedUserRepository::new(
//!     MemoryRepositories::new(),
//!     Arc::new(InMemoryCache::new()),
//!     Duration::from_secs(60),
//! )
//! .unwrap();
//! let email = EmailAddress::parse("ada@example.com").unwrap();
//! let ada = users.create(NewUser::new(email, "Ada").unwrap()).await.unwrap();
//! assert_eq!(users.get(ada.id).await.unwrap(), ada); // from the cache
//! # });
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use seam_cache::{BypassOnError, Cache, CacheExt, DynCache};
use seam_core::{Classify, ErrorKind};
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{Page, Result, UserQuery, UserRepository, UserUpdate};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The counter of cached lookups, labelled by `cache` (`users`), `op` (`get`,
/// `find_by_email`) and `outcome` (`hit`, `miss`).
pub const LOOKUPS_TOTAL: &str = "seam_cache_lookups_total";

/// Every key this crate writes starts with this, so the entries are easy to find and to
/// drop; `v1` changes if the cached representation ever does.
pub const KEY_NAMESPACE: &str = "users:v1:";

/// The cache key of the user with `id`: `users:v1:id:<uuid>`.
pub fn id_key(id: UserId) -> String {
    format!("{KEY_NAMESPACE}id:{id}")
}

/// The cache key of the id of the user with this address:
/// `users:v1:email:<address>`, the address lower case in ASCII.
///
/// Two addresses share a key exactly when they are equal ignoring ASCII case, which
/// every adapter also treats as the same user. Characters a key may not hold
/// (whitespace and control characters, possible in a quoted local part) and `%` are
/// percent-encoded, so the mapping stays one-to-one. `None` when the key would be
/// longer than [`seam_cache::MAX_KEY_LEN`]: that address is not cached.
pub fn email_key(email: &EmailAddress) -> Option<String> {
    let mut key = format!("{KEY_NAMESPACE}email:");
    for c in email.as_str().chars() {
        if c == '%' || c.is_whitespace() || c.is_control() {
            let mut buffer = [0_u8; 4];
            for byte in c.encode_utf8(&mut buffer).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(key, "%{byte:02X}");
            }
        } else {
            key.push(c.to_ascii_lowercase());
        }
    }
    seam_cache::validate_key(&key).ok().map(|()| key)
}

/// Whether two addresses name the same cache entry (see [`email_key`]).
fn same_email(a: &EmailAddress, b: &EmailAddress) -> bool {
    a.as_str().eq_ignore_ascii_case(b.as_str())
}

/// A [`UserRepository`] that answers reads from a cache.
///
/// # What is cached
///
/// - `get(id)`: the user, as JSON under [`id_key`], for the configured TTL.
/// - `find_by_email(address)`: the user's id under [`email_key`]; a hit reads the user
///   through `get` and is only used when that user still has this address, so an
///   address entry can never return a user who has moved to another address or been
///   deleted. Addresses without a user are not cached.
/// - `create` stores the new user; `list` is never cached.
///
/// # Consistency
///
/// `update` and `delete` drop the user's entries after the repository write succeeded
/// (and the old address's entry when the address changed), so a read through this
/// decorator that starts after a write through it never sees the state before the
/// write. A read that raced the write and loaded the old state does not leave it in
/// the cache: every fill checks whether a write went through meanwhile and, if one did,
/// drops what it stored. A `Conflict` or `NotFound` from `update`, or a `NotFound` from
/// `delete`, means the repository changed behind this decorator's back: the user's entry
/// is dropped then too.
///
/// Writes that do not go through this decorator (another process with its own
/// in-process cache, a script on the database) are only seen once the TTL has passed:
/// the TTL bounds how stale a read can be. Two processes sharing one cache (Redis)
/// invalidate each other's entries.
///
/// # Failures
///
/// The cache is wrapped in [`BypassOnError`]: a cache call that fails is logged, counted
/// in [`seam_cache::BYPASSED_TOTAL`] and treated as a miss, and the request is served
/// by the repository. An entry whose invalidation failed that way stays stale until its
/// TTL passes. Repository errors are returned unchanged.
pub struct CachedUserRepository<R> {
    inner: R,
    cache: BypassOnError<Arc<DynCache>>,
    ttl: Duration,
    /// Incremented by every write, before its entries are dropped; a fill that sees it
    /// change undoes itself.
    writes: AtomicU64,
}

impl<R: fmt::Debug> fmt::Debug for CachedUserRepository<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedUserRepository")
            .field("inner", &self.inner)
            .field("cache", self.cache.inner())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<R: UserRepository> CachedUserRepository<R> {
    /// Puts `cache` in front of `inner`; entries live for `ttl`.
    ///
    /// # Errors
    ///
    /// [`seam_cache::Error::Invalid`] for a zero TTL.
    pub fn new(inner: R, cache: Arc<DynCache>, ttl: Duration) -> seam_cache::Result<Self> {
        if ttl.is_zero() {
            return Err(seam_cache::Error::invalid(
                "the TTL of cached users must be greater than zero",
            ));
        }
        Ok(Self {
            inner,
            cache: BypassOnError::new(cache),
            ttl,
            writes: AtomicU64::new(0),
        })
    }

    /// The decorated repository.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// How long entries live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The value under `key`; `None` on a miss, and when the cache fails.
    async fn read<T: DeserializeOwned + Send>(&self, key: &str) -> Option<T> {
        match self.cache.get_json(key).await {
            Ok(value) => value,
            Err(error) => {
                cache_error("get", key, &error);
                None
            }
        }
    }

    async fn store<T: Serialize + Sync>(&self, key: &str, value: &T) {
        if let Err(error) = self.cache.set_json(key, value, Some(self.ttl)).await {
            cache_error("set", key, &error);
        }
    }

    async fn forget(&self, key: &str) {
        if let Err(error) = self.cache.delete(key).await {
            cache_error("delete", key, &error);
        }
    }

    /// The write counter, read before loading from the repository.
    fn writes_seen(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Stores `user` (loaded after [`writes_seen`](Self::writes_seen) returned `seen`)
    /// under its id and its address.
    ///
    /// If a write went through since `seen`, `user` may predate it: the id entry is
    /// dropped again. Either the write bumps the counter before this looks (and this
    /// drops its entry), or after — and then its own invalidation comes after this
    /// store. The address entry needs no such care: it is checked on every hit.
    async fn fill(&self, seen: u64, user: &User) {
        let key = id_key(user.id);
        self.store(&key, user).await;
        if let Some(email_key) = email_key(&user.email) {
            self.store(&email_key, &user.id).await;
        }
        if self.writes_seen() != seen {
            tracing::debug!(user.id = %user.id, "a write raced this read; not caching it");
            self.forget(&key).await;
        }
    }

    /// Drops the entries of user `id` (and of `email`) after a write.
    async fn invalidate(&self, id: UserId, email: Option<&EmailAddress>) {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.forget(&id_key(id)).await;
        if let Some(key) = email.and_then(email_key) {
            self.forget(&key).await;
        }
    }
}

fn cache_error(op: &'static str, key: &str, error: &seam_cache::Error) {
    // `BypassOnError` already swallows every failure but `Invalid`, which is a bug
    // here (keys are validated when made); still, a cache never fails a request.
    tracing::warn!(
        cache.op = op,
        cache.key = key,
        error.message = %error,
        error.cause_chain = ?error,
        "cache call refused; serving from the repository"
    );
    metrics::counter!(seam_cache::BYPASSED_TOTAL, "op" => op).increment(1);
}

fn lookup(op: &'static str, hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!(LOOKUPS_TOTAL, "cache" => "users", "op" => op, "outcome" => outcome)
        .increment(1);
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<R: UserRepository> UserRepository for CachedUserRepository<R> {
    async fn create(&self, user: NewUser) -> Result<User> {
        let seen = self.writes_seen();
        let created = self.inner.create(user).await?;
        self.fill(seen, &created).await;
        Ok(created)
    }

    async fn get(&self, id: UserId) -> Result<User> {
        if let Some(user) = self.read::<User>(&id_key(id)).await {
            lookup("get", true);
            return Ok(user);
        }
        lookup("get", false);
        let seen = self.writes_seen();
        let user = self.inner.get(id).await?;
        self.fill(seen, &user).await;
        Ok(user)
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>> {
        let key = email_key(email);
        if let Some(key) = &key
            && let Some(id) = self.read::<UserId>(key).await
        {
            match self.get(id).await {
                Ok(user) if same_email(&user.email, email) => {
                    lookup("find_by_email", true);
                    return Ok(Some(user));
                }
                // The user moved to another address, or is gone: the entry is stale.
                Ok(_) => self.forget(key).await,
                Err(error) if error.kind() == ErrorKind::NotFound => self.forget(key).await,
                Err(error) => return Err(error),
            }
        }
        lookup("find_by_email", false);
        let seen = self.writes_seen();
        let found = self.inner.find_by_email(email).await?;
        if let Some(user) = &found {
            self.fill(seen, user).await;
        }
        Ok(found)
    }

    async fn update(&self, id: UserId, expected_version: i64, changes: UserUpdate) -> Result<User> {
        // The old address, to drop its entry if it changes (when the user is cached;
        // otherwise the check on every address hit covers it).
        let before = match changes.email() {
            Some(_) => self.read::<User>(&id_key(id)).await,
            None => None,
        };
        match self.inner.update(id, expected_version, changes).await {
            Ok(user) => {
                let old_email = before
                    .as_ref()
                    .map(|before| &before.email)
                    .filter(|old| !same_email(old, &user.email));
                self.invalidate(id, old_email).await;
                Ok(user)
            }
            Err(error) => {
                if matches!(error.kind(), ErrorKind::Conflict | ErrorKind::NotFound) {
                    self.invalidate(id, None).await;
                }
                Err(error)
            }
        }
    }

    async fn delete(&self, id: UserId) -> Result<()> {
        let before = self.read::<User>(&id_key(id)).await;
        match self.inner.delete(id).await {
            Ok(()) => {
                self.invalidate(id, before.as_ref().map(|user| &user.email))
                    .await;
                Ok(())
            }
            Err(error) => {
                if error.kind() == ErrorKind::NotFound {
                    self.invalidate(id, None).await;
                }
                Err(error)
            }
        }
    }

    async fn list(&self, query: UserQuery) -> Result<Page<User>> {
        self.inner.list(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    #[test]
    fn email_keys_ignore_ascii_case_only() {
        assert_eq!(
            email_key(&email("Ada.Lovelace@Example.com")).unwrap(),
            "users:v1:email:ada.lovelace@example.com"
        );
        assert_eq!(
            email_key(&email("ADA@example.com")),
            email_key(&email("ada@example.com"))
        );
        // Non-ASCII letters are kept as they are: adapters may or may not fold them.
        assert_ne!(
            email_key(&email("Ä@example.com")),
            email_key(&email("ä@example.com"))
        );
    }

    #[test]
    fn email_keys_encode_what_a_key_cannot_hold() {
        let spaced = email(r#""a b"@example.com"#);
        let key = email_key(&spaced).unwrap();
        assert_eq!(key, r#"users:v1:email:"a%20b"@example.com"#);
        seam_cache::validate_key(&key).unwrap();
        // `%` itself is encoded, so an address spelling the escape differs.
        let literal = email(r#""a%20b"@example.com"#);
        assert_ne!(email_key(&literal).unwrap(), key);
    }

    #[test]
    fn id_keys_are_namespaced() {
        let id = UserId::new();
        assert_eq!(id_key(id), format!("users:v1:id:{id}"));
    }
}
