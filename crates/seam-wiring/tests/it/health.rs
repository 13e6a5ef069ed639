//! The adapters that talk to a server of their own show up in `/health`.

use seam_core::{HealthStatus, SystemClock};
use seam_health::HealthRegistry;
use seam_wiring::{Adapters, CacheBackend, QueueBackend, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_queue_and_cache_are_checked_and_the_queue_is_critical_when_asked() {
    seam_testkit::init_test_logging();
    let redis = seam_testkit::require_redis();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let prefix = format!("seam-test:{}", uuid::Uuid::now_v7().simple());
    settings.queue.backend = QueueBackend::Redis;
    settings.queue.redis.url = redis.clone().into();
    settings.queue.redis.key_prefix = prefix.clone();
    settings.cache.backend = CacheBackend::Redis;
    settings.cache.redis_url = redis.into();
    settings.cache.key_prefix = format!("{prefix}:cache:");
    let database = seam_wiring::connect_database(&settings).await.unwrap();
    database.migrate_up().await.unwrap();
    let adapters = Adapters::build(&settings, &database).await.unwrap();

    let registry = HealthRegistry::new(settings.health.clone(), SystemClock::shared());
    adapters.register_health(&registry, true);
    registry.check_all().await;
    let report = registry.report();
    let queue = report.check("queue").expect("the queue is checked");
    assert_eq!(queue.status, HealthStatus::Up);
    assert!(queue.critical);
    let cache = report.check("cache").expect("the cache is checked");
    assert_eq!(cache.status, HealthStatus::Up);
    assert!(!cache.critical, "reads bypass a cache that is down");

    let api = HealthRegistry::new(settings.health.clone(), SystemClock::shared());
    adapters.register_health(&api, false);
    api.check_all().await;
    assert!(!api.report().check("queue").unwrap().critical);

    let mut connection = redis::Client::open(seam_testkit::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    database.close().await;
}

#[tokio::test]
async fn the_embedded_defaults_add_no_checks_beyond_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let database = seam_wiring::connect_database(&settings).await.unwrap();
    database.migrate_up().await.unwrap();
    let adapters = Adapters::build(&settings, &database).await.unwrap();
    let registry = HealthRegistry::new(settings.health.clone(), SystemClock::shared());
    adapters.register_health(&registry, true);
    registry.check_all().await;
    assert!(registry.report().checks.is_empty());
    database.close().await;
}
