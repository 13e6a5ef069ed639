//! The cache-backed deny-list passes the port's suite, in memory and on real Redis.

use std::sync::Arc;
use std::time::Duration;

use seam_auth::RevocationList;
use seam_auth_jwt::CacheRevocationList;
use seam_cache::{DynCache, InMemoryCache};
use seam_cache_redis::RedisCacheConfig;
use seam_core::{ManualClock, SystemClock};

#[tokio::test]
async fn cache_revocation_list_over_the_in_memory_cache_passes_the_suite() {
    let clock = ManualClock::new();
    let cache: Arc<DynCache> = Arc::new(InMemoryCache::with_clock(clock.shared()));
    let list = CacheRevocationList::new(cache, "auth:", clock.shared());
    seam_auth::conformance::run_all(&list, Some(&clock)).await;
}

#[tokio::test]
async fn cache_revocation_list_over_real_redis_passes_the_suite() {
    let url = seam_testkit::require_redis();
    let prefix = format!("seam-test:auth:{}:", uuid::Uuid::now_v7().simple());
    let cache: Arc<DynCache> = Arc::new(
        RedisCacheConfig::new(url, prefix.clone())
            .with_timeout(Duration::from_secs(2))
            .build()
            .expect("valid redis config"),
    );
    let list = CacheRevocationList::new(cache, "", SystemClock::shared());
    seam_auth::conformance::run_all(&list, None).await;

    // Entries carry the token's remaining lifetime as TTL.
    let jti = "short-lived";
    list.revoke(jti, chrono::Utc::now() + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert!(list.is_revoked(jti).await.unwrap());
    let keys = remove_keys(&prefix).await;
    assert!(!keys.is_empty());
}

/// Deletes every key under `prefix`, checking first that each expires on its own;
/// returns the keys found.
pub(crate) async fn remove_keys(prefix: &str) -> Vec<String> {
    let mut connection = redis::Client::open(seam_testkit::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // Test prefixes hold no glob characters, so they match themselves.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    for key in &keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!(ttl > 0, "{key} must expire on its own (PTTL {ttl})");
        let _: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    keys
}
