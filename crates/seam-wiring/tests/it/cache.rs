//! `cache.backend` puts the right read-through cache in front of the users.
//!
//! A user is renamed in the database behind the adapters' back: a read served by the
//! cache still shows the old name, a read without one shows the new name.

use std::time::Duration;

use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{UserRepository, UserUpdate};
use seam_sql::Database;
use seam_wiring::{Adapters, CacheBackend, Settings};
use tempfile::TempDir;

/// Settings over a fresh, migrated SQLite database, with the embedded defaults.
async fn setup() -> (TempDir, Settings, Database) {
    seam_testkit::init_test_logging();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Settings::default()
    };
    let database = seam_wiring::connect_database(&settings)
        .await
        .expect("the SQLite database opens");
    database.migrate_up().await.expect("migrations apply");
    (dir, settings, database)
}

async fn create(users: &dyn UserRepository) -> User {
    let email = EmailAddress::parse(&format!("ada.{}@example.com", UserId::new())).unwrap();
    users
        .create(NewUser::new(email, "Ada").unwrap())
        .await
        .expect("user created")
}

/// Renames the user in the database, bypassing every cache.
async fn rename_behind_the_back(database: &Database, id: UserId, name: &str) {
    let pool = database.as_sqlite().expect("a SQLite database");
    let done =
        seam_sql::sqlx::query("UPDATE users SET name = ?1, version = version + 1 WHERE id = ?2")
            .bind(name)
            .bind(id.to_string())
            .execute(pool)
            .await
            .expect("rename");
    assert_eq!(done.rows_affected(), 1);
}

#[tokio::test]
async fn the_embedded_default_serves_users_through_the_cache() {
    let (_dir, settings, database) = setup().await;
    assert_eq!(settings.cache.backend, CacheBackend::Memory);
    let adapters = Adapters::build(&settings, &database).await.unwrap();
    let users = adapters.repositories.users.clone();
    assert!(format!("{users:?}").contains("CachedUserRepository"));

    let ada = create(users.as_ref()).await;
    rename_behind_the_back(&database, ada.id, "Renamed").await;
    assert_eq!(
        users.get(ada.id).await.unwrap().name,
        "Ada",
        "served from the cache"
    );

    // A write through the adapters invalidates: the next read is the database's.
    let updated = users
        .update(ada.id, 2, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), updated);
    database.close().await;
}

#[tokio::test]
async fn no_cache_reads_the_database_every_time() {
    let (_dir, mut settings, database) = setup().await;
    settings.cache.backend = CacheBackend::None;
    let adapters = Adapters::build(&settings, &database).await.unwrap();
    let users = adapters.repositories.users.clone();
    assert!(!format!("{users:?}").contains("CachedUserRepository"));

    let ada = create(users.as_ref()).await;
    users.get(ada.id).await.unwrap();
    rename_behind_the_back(&database, ada.id, "Renamed").await;
    assert_eq!(users.get(ada.id).await.unwrap().name, "Renamed");
    database.close().await;
}

/// Deletes every key under `prefix` and returns how many there were.
async fn remove_keys(prefix: &str) -> usize {
    let client = redis::Client::open(seam_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{prefix}*");
    let mut cursor: u64 = 0;
    let mut removed = 0;
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
            removed += keys.len();
            redis::cmd("DEL")
                .arg(&keys)
                .query_async::<i64>(&mut connection)
                .await
                .unwrap();
        }
        if next == 0 {
            return removed;
        }
        cursor = next;
    }
}

async fn redis_exists(key: &str) -> bool {
    let client = redis::Client::open(seam_testkit::redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("EXISTS")
        .arg(key)
        .query_async::<i64>(&mut connection)
        .await
        .unwrap()
        == 1
}

#[tokio::test]
async fn a_redis_backend_caches_in_redis_shared_between_processes() {
    let url = seam_testkit::require_redis();
    let (_dir, mut settings, database) = setup().await;
    let prefix = format!("seam-test:wiring:{}:", uuid::Uuid::now_v7().simple());
    settings.cache.backend = CacheBackend::Redis;
    settings.cache.redis_url = url.into();
    settings.cache.key_prefix = prefix.clone();
    settings.cache.ttl = Duration::from_secs(60);

    // Two sets of adapters stand for two processes (the API and the worker).
    let api = Adapters::build(&settings, &database).await.unwrap();
    let worker = Adapters::build(&settings, &database).await.unwrap();
    let ada = create(api.repositories.users.as_ref()).await;
    assert!(redis_exists(&format!("{prefix}users:v1:id:{}", ada.id)).await);

    rename_behind_the_back(&database, ada.id, "Renamed").await;
    let seen = worker.repositories.users.get(ada.id).await.unwrap();
    assert_eq!(
        seen.name, "Ada",
        "the worker reads the entry the API stored"
    );

    // An update through one process invalidates the entry for the other.
    let updated = api
        .repositories
        .users
        .update(ada.id, 2, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(
        worker.repositories.users.get(ada.id).await.unwrap(),
        updated
    );

    database.close().await;
    assert!(remove_keys(&prefix).await > 0);
    assert_eq!(remove_keys(&prefix).await, 0);
}

#[tokio::test]
async fn a_redis_that_is_down_neither_stops_start_up_nor_fails_requests() {
    let (_dir, mut settings, database) = setup().await;
    settings.cache.backend = CacheBackend::Redis;
    // Nothing listens on port 1: every call is refused at once, on loopback.
    settings.cache.redis_url = "redis://127.0.0.1:1".to_owned().into();
    let adapters = Adapters::build(&settings, &database).await.unwrap();
    let users = adapters.repositories.users.clone();

    let ada = create(users.as_ref()).await;
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    let updated = users
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), updated);
    database.close().await;
}
