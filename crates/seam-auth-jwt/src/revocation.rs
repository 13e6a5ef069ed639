//! A [`RevocationList`] over the cache port: Redis in production, entries expiring
//! with their token through the cache's TTL.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_auth::{Error, Result, RevocationList, validate_jti};
use seam_cache::DynCache;
use seam_core::SharedClock;
use sha2::{Digest, Sha256};

/// A deny-list of token ids kept in a [`Cache`](seam_cache::Cache).
///
/// Each revoked `jti` is one entry, `"{prefix}jti:{sha256(jti)}"`, whose value is the
/// token's expiry (Unix seconds) and whose TTL is the token's remaining lifetime, so
/// the list never outgrows the live revoked tokens. With `seam-cache-redis` every
/// instance of every service sees the same list.
///
/// Revocation is read-then-write (the cache port has no compare-and-set): two
/// concurrent revocations of one id with different expiries keep one of them; both
/// are revoked until at least the earlier expiry. A cache that is down is
/// [`Error::StoreUnavailable`], which validators turn into a refusal (fail closed).
///
/// Do not wrap the cache in `BypassOnError`: a deny-list that silently misses lets
/// revoked tokens through.
#[derive(Debug)]
pub struct CacheRevocationList {
    cache: Arc<DynCache>,
    prefix: String,
    clock: SharedClock,
}

impl CacheRevocationList {
    /// A list in `cache` under `prefix` (e.g. `"auth:"`), on `clock`.
    pub fn new(cache: Arc<DynCache>, prefix: impl Into<String>, clock: SharedClock) -> Self {
        Self {
            cache,
            prefix: prefix.into(),
            clock,
        }
    }

    fn key(&self, jti: &str) -> String {
        let digest = Sha256::digest(jti.as_bytes());
        let mut key = String::with_capacity(self.prefix.len() + 4 + 64);
        key.push_str(&self.prefix);
        key.push_str("jti:");
        for byte in digest {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }
}

fn store_error(error: seam_cache::Error) -> Error {
    Error::store("revocation list", error)
}

fn stored_expiry(bytes: &[u8]) -> Option<i64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[async_trait]
impl RevocationList for CacheRevocationList {
    async fn revoke(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<()> {
        validate_jti(jti)?;
        let key = self.key(jti);
        let mut until = expires_at.timestamp();
        if let Some(existing) = self.cache.get(&key).await.map_err(store_error)?
            && let Some(existing) = stored_expiry(&existing)
        {
            until = until.max(existing);
        }
        let remaining_ms = until.saturating_mul(1000) - self.now().timestamp_millis();
        if remaining_ms <= 0 {
            // The token has expired already: it is refused as expired.
            return Ok(());
        }
        let ttl = Duration::from_millis(u64::try_from(remaining_ms).unwrap_or(u64::MAX));
        self.cache
            .set(&key, until.to_string().as_bytes(), Some(ttl))
            .await
            .map_err(store_error)
    }

    async fn is_revoked(&self, jti: &str) -> Result<bool> {
        validate_jti(jti)?;
        let Some(value) = self.cache.get(&self.key(jti)).await.map_err(store_error)? else {
            return Ok(false);
        };
        // The cache's TTL is the expiry; the stored value double-checks it on caches
        // whose clock is not ours.
        Ok(stored_expiry(&value).is_none_or(|until| until * 1000 > self.now().timestamp_millis()))
    }
}
