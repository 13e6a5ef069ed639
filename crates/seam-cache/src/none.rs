//! The cache that caches nothing, for `cache = "none"`.

use std::time::Duration;

use async_trait::async_trait;

use crate::{Cache, Result, ttl_millis, validate_key};

/// A [`Cache`] that stores nothing: every `get` misses and every call succeeds.
///
/// It still refuses invalid keys and TTLs, so code that works with `NoCache` works
/// with a real cache too.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

#[async_trait]
impl Cache for NoCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        validate_key(key)?;
        Ok(None)
    }

    async fn set(&self, key: &str, _value: &[u8], ttl: Option<Duration>) -> Result<()> {
        validate_key(key)?;
        ttl.map(ttl_millis).transpose()?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        validate_key(key)?;
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    #[tokio::test]
    async fn always_misses() {
        NoCache.set("k", b"v", None).await.unwrap();
        assert_eq!(NoCache.get("k").await.unwrap(), None);
        assert!(!NoCache.delete("k").await.unwrap());
        assert!(matches!(
            NoCache.get("bad key").await,
            Err(Error::Invalid { .. })
        ));
    }
}
