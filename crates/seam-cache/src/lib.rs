//! The cache port: a shared byte cache with per-entry time-to-live.
//!
//! - [`Cache`]: `get`, `set` (with an optional TTL) and `delete` over bytes, used as
//!   `Arc<dyn Cache>` ([`DynCache`]); [`CacheExt`] adds typed JSON helpers.
//! - [`InMemoryCache`]: the in-process adapter, with TTLs driven by a
//!   [`Clock`](seam_core::Clock) and an optional entry limit.
//! - [`NoCache`]: always misses and never fails (`cache = "none"`).
//! - [`BypassOnError`]: a decorator under which a cache that is down never fails a
//!   request: failures are logged and counted and the call behaves as a miss.
//! - `conformance` (feature `conformance`): the suite every adapter passes.
//!
//! A cache is an optimisation: callers must behave correctly (if more slowly) when
//! every `get` misses.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use seam_cache::{Cache, CacheExt, DynCache, InMemoryCache};
//!
//! let cache: Arc<DynCache> = Arc::new(InMemoryCache::new());
//! cache.set_json("user:42", &vec!["a", "b"], Some(Duration::from_secs(60))).await.unwrap();
//! let back: Option<Vec<String>> = cache.get_json("user:42").await.unwrap();
//! assert_eq!(back, Some(vec!["a".to_owned(), "b".to_owned()]));
//! assert!(cache.delete("user:42").await.unwrap());
//! # });
//! ```

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

mod bypass;
#[cfg(feature = "conformance")]
pub mod conformance;
mod error;
mod memory;
mod none;

pub use bypass::{BYPASSED_TOTAL, BypassOnError};
pub use error::{BoxError, Error, Result};
pub use memory::InMemoryCache;
pub use none::NoCache;

/// The longest key accepted, in bytes (before any adapter prefix).
pub const MAX_KEY_LEN: usize = 512;

/// A shared cache of byte values with optional per-entry time-to-live.
///
/// # Contract
///
/// For every method:
///
/// - a key MUST be refused with [`Error::Invalid`] when it is empty, longer than
///   [`MAX_KEY_LEN`] bytes, or contains whitespace or control characters (see
///   [`validate_key`]); nothing is read or written then;
/// - a failure to reach the backend MUST be [`Error::Unavailable`], a deadline that
///   passes MUST be [`Error::Timeout`].
///
/// Adapters that share a backend between deployments or tests isolate them with a key
/// prefix: two caches with different prefixes MUST NOT see each other's entries.
#[async_trait]
pub trait Cache: Debug + Send + Sync + 'static {
    /// The value stored under `key`.
    ///
    /// MUST return `Ok(None)` when there is no entry or its TTL has passed: an expired
    /// entry is never returned.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, replacing any previous value and TTL.
    ///
    /// With `ttl = Some(d)` the entry MUST stop being visible once `d` has passed; with
    /// `None` it lives until deleted or evicted. A TTL is kept to millisecond precision
    /// (rounded up); `Some(Duration::ZERO)` MUST be refused with [`Error::Invalid`].
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()>;

    /// Removes the entry under `key`.
    ///
    /// MUST return `true` when a visible entry was removed and `false` when there was
    /// none (or it had expired).
    async fn delete(&self, key: &str) -> Result<bool>;
}

/// A cache used as a trait object: `Arc<DynCache>`.
pub type DynCache = dyn Cache;

#[async_trait]
impl<T: Cache + ?Sized> Cache for Arc<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        (**self).get(key).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        (**self).set(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        (**self).delete(key).await
    }
}

#[async_trait]
impl<T: Cache + ?Sized> Cache for Box<T> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        (**self).get(key).await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        (**self).set(key, value, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        (**self).delete(key).await
    }
}

/// Typed conveniences over any [`Cache`], encoding values as JSON.
#[async_trait]
pub trait CacheExt: Cache {
    /// The value under `key`, decoded from JSON.
    ///
    /// A stored value that no longer decodes as `T` (the type changed between
    /// releases, or another writer used the key) is treated as a miss: it is logged,
    /// deleted, and `Ok(None)` is returned.
    async fn get_json<T>(&self, key: &str) -> Result<Option<T>>
    where
        T: DeserializeOwned + Send,
    {
        let Some(bytes) = self.get(key).await? else {
            return Ok(None);
        };
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Some(value)),
            Err(error) => {
                tracing::warn!(
                    cache.key = key,
                    error.message = %error,
                    "cached value does not decode; treating it as a miss and deleting it"
                );
                if let Err(error) = self.delete(key).await {
                    tracing::warn!(
                        cache.key = key,
                        error.message = %error,
                        "could not delete an undecodable cached value"
                    );
                }
                Ok(None)
            }
        }
    }

    /// Stores `value` under `key` as JSON; see [`Cache::set`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `value` cannot be encoded as JSON, and the errors of
    /// [`Cache::set`].
    async fn set_json<T>(&self, key: &str, value: &T, ttl: Option<Duration>) -> Result<()>
    where
        T: Serialize + Sync + ?Sized,
    {
        let bytes = serde_json::to_vec(value)
            .map_err(|error| Error::invalid(format!("value cannot be encoded as JSON: {error}")))?;
        self.set(key, &bytes, ttl).await
    }

    /// Read-through: the value under `key`, or else the value `load` gives, which is then
    /// stored with `ttl`.
    ///
    /// `load` runs on a miss only. A failure of `load` is returned as is and nothing is
    /// stored. Concurrent misses may each run `load` (there is no stampede protection).
    ///
    /// # Errors
    ///
    /// `load`'s error, or a cache error converted into `E` (none but `Invalid` when the
    /// cache is wrapped in [`BypassOnError`]).
    async fn get_or_set_json<T, E, F, Fut>(
        &self,
        key: &str,
        ttl: Option<Duration>,
        load: F,
    ) -> Result<T, E>
    where
        T: Serialize + DeserializeOwned + Send + Sync,
        E: From<Error> + Send,
        F: FnOnce() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T, E>> + Send,
    {
        if let Some(hit) = self.get_json::<T>(key).await? {
            return Ok(hit);
        }
        let value = load().await?;
        self.set_json(key, &value, ttl).await?;
        Ok(value)
    }
}

impl<C: Cache + ?Sized> CacheExt for C {}

/// Checks a key against the rules of the [`Cache`] contract.
///
/// # Errors
///
/// [`Error::Invalid`] when the key is empty, longer than [`MAX_KEY_LEN`] bytes, or
/// contains whitespace or control characters. The message quotes at most the first
/// 40 characters of the key.
///
/// ```
/// assert!(seam_cache::validate_key("user:42").is_ok());
/// assert!(seam_cache::validate_key("user 42").is_err());
/// assert!(seam_cache::validate_key("").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("cache key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::invalid(format!(
            "cache key is {} bytes long; at most {MAX_KEY_LEN} are allowed",
            key.len()
        )));
    }
    if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        let shown: String = key.chars().take(40).collect();
        return Err(Error::invalid(format!(
            "cache key {shown:?} contains whitespace or control characters"
        )));
    }
    Ok(())
}

/// Checks a TTL against the [`Cache::set`] contract and returns it in whole
/// milliseconds, rounded up.
///
/// # Errors
///
/// [`Error::Invalid`] for a zero TTL.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(seam_cache::ttl_millis(Duration::from_micros(1500)).unwrap(), 2);
/// assert!(seam_cache::ttl_millis(Duration::ZERO).is_err());
/// ```
pub fn ttl_millis(ttl: Duration) -> Result<u64> {
    if ttl.is_zero() {
        return Err(Error::invalid(
            "a cache TTL of zero is not allowed; pass None for no expiry",
        ));
    }
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    Ok(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key("orders:v1:ÿ-😀").is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
        for bad in ["", "a b", "a\tb", "a\nb", "a\u{0}b", "a\u{a0}b"] {
            let error = validate_key(bad).unwrap_err();
            assert!(matches!(error, Error::Invalid { .. }), "{bad:?}");
        }
        assert!(validate_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[tokio::test]
    async fn read_through_loads_once_and_keeps_load_errors() {
        let cache = InMemoryCache::new();
        let loads = std::sync::atomic::AtomicU32::new(0);
        for _ in 0..2 {
            let value: Result<String, Error> = cache
                .get_or_set_json("user:1", Some(Duration::from_secs(60)), || async {
                    loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok("Ada".to_owned())
                })
                .await;
            assert_eq!(value.unwrap(), "Ada");
        }
        assert_eq!(loads.into_inner(), 1);

        let failed: Result<String, Error> = cache
            .get_or_set_json("user:2", None, || async {
                Err(Error::invalid("no such user"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(cache.get("user:2").await.unwrap(), None);
    }

    #[test]
    fn ttls() {
        assert_eq!(ttl_millis(Duration::from_nanos(1)).unwrap(), 1);
        assert_eq!(ttl_millis(Duration::from_secs(2)).unwrap(), 2000);
        assert!(matches!(
            ttl_millis(Duration::ZERO),
            Err(Error::Invalid { .. })
        ));
    }
}
