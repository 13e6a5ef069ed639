//! The Redis cache against a real Redis on loopback.

use std::sync::Arc;
use std::time::Duration;

use seam_cache::conformance::{self, Expiry};
use seam_cache::{BypassOnError, Cache, CacheExt, DynCache, Error};
use seam_cache_redis::{RedisCache, RedisCacheConfig};
use seam_core::{HealthCheck, HealthStatus};

/// A cache on the test Redis under a prefix no other test uses.
fn cache_with_prefix(prefix: &str) -> RedisCache {
    let url = seam_testkit::require_redis();
    RedisCacheConfig::new(url, prefix)
        .with_timeout(Duration::from_secs(2))
        .build()
        .expect("valid config")
}

fn unique_prefix() -> String {
    format!("seam-test:{}:", uuid::Uuid::now_v7().simple())
}

/// Deletes every key under `prefix` (SCAN + DEL), and checks that none are left.
async fn remove_keys(prefix: &str) {
    let client = redis::Client::open(seam_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    // Test prefixes hold no glob characters, so they match themselves.
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(&mut connection)
            .await
            .unwrap();
        if !keys.is_empty() {
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<i64>(&mut connection)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

#[tokio::test]
async fn passes_the_conformance_suite() {
    seam_testkit::init_test_logging();
    let prefix = unique_prefix();
    let cache = cache_with_prefix(&format!("{prefix}a:"));
    let isolated = cache_with_prefix(&format!("{prefix}b:"));
    conformance::run_all(&cache, &isolated, &Expiry::real()).await;
    remove_keys(&prefix).await;
}

#[tokio::test]
async fn keys_carry_the_prefix_on_the_server() {
    let prefix = unique_prefix();
    let cache = cache_with_prefix(&prefix);
    cache
        .set_json("user:1", &"Ada", Some(Duration::from_secs(60)))
        .await
        .unwrap();
    let client = redis::Client::open(seam_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("{prefix}user:1"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(raw.as_deref(), Some("\"Ada\""));
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(format!("{prefix}user:1"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!(ttl_ms > 0 && ttl_ms <= 60_000, "PTTL {ttl_ms}");
    remove_keys(&prefix).await;
}

#[tokio::test]
async fn health_check_pings() {
    let cache = cache_with_prefix(&unique_prefix());
    cache.ping().await.unwrap();
    assert_eq!(cache.check().await.status, HealthStatus::Up);
    assert_eq!(cache.name(), "cache");
}

fn unreachable_cache() -> RedisCache {
    // Nothing listens on port 1: the connection is refused at once.
    RedisCacheConfig::new("redis://127.0.0.1:1", "seam-test:unreachable:")
        .with_timeout(Duration::from_secs(2))
        .build()
        .expect("valid config")
}

#[tokio::test]
async fn unreachable_redis_is_unavailable() {
    let cache = unreachable_cache();
    for _ in 0..2 {
        let error = cache.get("k").await.unwrap_err();
        assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    }
    let error = cache.set("k", b"v", None).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    let error = cache.delete("k").await.unwrap_err();
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert!(matches!(cache.ping().await, Err(Error::Unavailable { .. })));
    let health = cache.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    assert_eq!(health.detail.as_deref(), Some("redis: unavailable"));
    // The caller's mistakes are still reported as such, without touching the network.
    assert!(matches!(
        cache.get("bad key").await,
        Err(Error::Invalid { .. })
    ));
}

#[tokio::test]
async fn unreachable_redis_behind_the_bypass_never_fails() {
    let cache: Arc<DynCache> = Arc::new(BypassOnError::new(unreachable_cache()));
    assert_eq!(cache.get("k").await.unwrap(), None);
    cache
        .set("k", b"v", Some(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(!cache.delete("k").await.unwrap());
    let typed: Option<u32> = cache.get_json("k").await.unwrap();
    assert_eq!(typed, None);
    cache.set_json("k", &1_u32, None).await.unwrap();
}
