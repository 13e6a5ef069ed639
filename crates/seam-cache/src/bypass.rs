//! A decorator under which a cache that is down never fails a request.

use std::time::Duration;

use async_trait::async_trait;

use crate::{Cache, Error, Result};

/// The counter of cache calls whose failure was swallowed, labelled by `op`
/// (`get`, `set`, `delete`).
pub const BYPASSED_TOTAL: &str = "seam_cache_bypassed_total";

/// Wraps a [`Cache`] so that its failures never reach the caller.
///
/// A cache is an optimisation: when it is unavailable, slow or broken, requests
/// should go to the source of truth rather than fail. Under this decorator a failed
/// `get` is a miss (`Ok(None)`), a failed `set` succeeds without storing, and a failed
/// `delete` returns `Ok(false)`. Each swallowed failure is logged at `warn` and counted
/// in [`BYPASSED_TOTAL`].
///
/// [`Error::Invalid`] is the exception: it is the caller's bug (a malformed key, a zero
/// TTL), not the cache's failure, so it is returned as is and the decorator keeps the
/// [`Cache`] contract.
///
/// A failed `delete` that is swallowed may leave a stale entry until its TTL passes:
/// give entries that must be invalidated a TTL.
#[derive(Debug, Clone)]
pub struct BypassOnError<C> {
    inner: C,
}

impl<C: Cache> BypassOnError<C> {
    /// Wraps `inner`.
    pub fn new(inner: C) -> Self {
        Self { inner }
    }

    /// The wrapped cache.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The wrapped cache, unwrapped.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

/// Returns `Ok(fallback)` for a failure worth bypassing, after logging and counting it.
fn bypass<T>(op: &'static str, key: &str, result: Result<T>, fallback: T) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(error @ Error::Invalid { .. }) => Err(error),
        Err(error) => {
            tracing::warn!(
                cache.op = op,
                cache.key = key,
                error.kind = %seam_core::Classify::kind(&error),
                error.message = %error,
                error.cause_chain = ?error,
                "cache call failed; bypassing the cache"
            );
            metrics::counter!(BYPASSED_TOTAL, "op" => op).increment(1);
            Ok(fallback)
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<C: Cache> Cache for BypassOnError<C> {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        bypass("get", key, self.inner.get(key).await, None)
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        bypass("set", key, self.inner.set(key, value, ttl).await, ())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        bypass("delete", key, self.inner.delete(key).await, false)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    use super::*;
    use crate::{CacheExt, DynCache, InMemoryCache};

    /// A cache that always fails with a clone of the error made by `make`.
    #[derive(Debug)]
    struct Broken(fn() -> Error);

    #[async_trait]
    impl Cache for Broken {
        async fn get(&self, _key: &str) -> Result<Option<Vec<u8>>> {
            Err((self.0)())
        }
        async fn set(&self, _key: &str, _value: &[u8], _ttl: Option<Duration>) -> Result<()> {
            Err((self.0)())
        }
        async fn delete(&self, _key: &str) -> Result<bool> {
            Err((self.0)())
        }
    }

    fn counters(snapshotter: &metrics_util::debugging::Snapshotter) -> Vec<(String, u64)> {
        let mut found = Vec::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            if key.key().name() != BYPASSED_TOTAL {
                continue;
            }
            let op = key
                .key()
                .labels()
                .find(|label| label.key() == "op")
                .map(|label| label.value().to_owned())
                .unwrap_or_default();
            if let DebugValue::Counter(n) = value {
                found.push((op, n));
            }
        }
        found.sort();
        found
    }

    #[test]
    fn failures_become_misses_and_are_counted() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            futures::executor::block_on(async {
                for make in [
                    (|| Error::unavailable("test", "connection refused")) as fn() -> Error,
                    || Error::Timeout {
                        adapter: "test",
                        after: Duration::from_millis(50),
                    },
                    || Error::backend("test", "OOM command not allowed"),
                ] {
                    let cache: Arc<DynCache> = Arc::new(BypassOnError::new(Broken(make)));
                    assert_eq!(cache.get("k").await.unwrap(), None);
                    cache.set("k", b"v", None).await.unwrap();
                    assert!(!cache.delete("k").await.unwrap());
                    let typed: Option<u32> = cache.get_json("k").await.unwrap();
                    assert_eq!(typed, None);
                    cache.set_json("k", &7_u32, None).await.unwrap();
                }
            });
        });
        assert_eq!(
            counters(&snapshotter),
            vec![
                ("delete".to_owned(), 3),
                ("get".to_owned(), 6),
                ("set".to_owned(), 6)
            ]
        );
    }

    #[tokio::test]
    async fn invalid_requests_are_still_refused() {
        let cache = BypassOnError::new(Broken(|| Error::invalid("bad key")));
        assert!(matches!(cache.get("k").await, Err(Error::Invalid { .. })));
        let cache = BypassOnError::new(InMemoryCache::new());
        assert!(matches!(
            cache.set("bad key", b"v", None).await,
            Err(Error::Invalid { .. })
        ));
    }

    #[tokio::test]
    async fn a_working_cache_is_untouched() {
        let cache = BypassOnError::new(InMemoryCache::new());
        cache.set("k", b"v", None).await.unwrap();
        assert_eq!(cache.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        assert!(cache.delete("k").await.unwrap());
        assert!(cache.inner().is_empty());
    }
}
