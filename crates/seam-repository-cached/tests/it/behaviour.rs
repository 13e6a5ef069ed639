//! What the cache adds: hits, invalidation, expiry, and bypass when the cache fails.

use std::sync::Arc;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use seam_cache::{Cache, CacheExt, DynCache, InMemoryCache};
use seam_core::{Classify, ErrorKind, ManualClock};
use seam_domain::{EmailAddress, NewUser, User, UserId};
use seam_repository::{UserQuery, UserRepository, UserUpdate};
use seam_repository_cached::{CachedUserRepository, email_key, id_key};

use crate::support::{Counting, DownCache, RefusingCache};

const TTL: Duration = Duration::from_secs(30);

fn email(text: &str) -> EmailAddress {
    EmailAddress::parse(text).unwrap()
}

fn unique(local: &str) -> EmailAddress {
    email(&format!("{local}.{}@example.com", UserId::new()))
}

fn cached(cache: Arc<DynCache>) -> CachedUserRepository<Arc<Counting>> {
    CachedUserRepository::new(Arc::new(Counting::default()), cache, TTL).unwrap()
}

/// A user created behind the decorator's back, so the cache does not know it yet.
async fn seeded(users: &CachedUserRepository<Arc<Counting>>, local: &str) -> User {
    users
        .inner()
        .create(NewUser::new(unique(local), "Ada").unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_second_get_is_served_from_the_cache() {
    let cache = InMemoryCache::new();
    let users = cached(Arc::new(cache.clone()));
    let ada = seeded(&users, "ada").await;

    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.inner().gets(), 1, "the second get MUST be a hit");

    // The entry lives under the `users:` namespace, as JSON.
    let stored: Option<User> = cache.get_json(&id_key(ada.id)).await.unwrap();
    assert_eq!(stored, Some(ada.clone()));
    assert!(id_key(ada.id).starts_with("users:"));
}

#[tokio::test]
async fn find_by_email_is_cached_whatever_the_ascii_case() {
    let users = cached(Arc::new(InMemoryCache::new()));
    let ada = seeded(&users, "ada").await;
    let shouted = email(&ada.email.as_str().to_uppercase());

    assert_eq!(
        users.find_by_email(&ada.email).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(
        users.find_by_email(&shouted).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.inner().finds(), 1);
    assert_eq!(
        users.inner().gets(),
        0,
        "the lookup by address filled the id entry"
    );

    // Unknown addresses are not cached: a user created later is found.
    let later = unique("later");
    assert_eq!(users.find_by_email(&later).await.unwrap(), None);
    let created = users
        .inner()
        .create(NewUser::new(later.clone(), "Later").unwrap())
        .await
        .unwrap();
    assert_eq!(users.find_by_email(&later).await.unwrap(), Some(created));
}

#[tokio::test]
async fn create_primes_the_cache() {
    let users = cached(Arc::new(InMemoryCache::new()));
    let ada = users
        .create(NewUser::new(unique("ada"), "Ada").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.find_by_email(&ada.email).await.unwrap(), Some(ada));
    assert_eq!(users.inner().gets(), 0);
    assert_eq!(users.inner().finds(), 0);
}

#[tokio::test]
async fn update_invalidates_so_reads_are_never_stale() {
    let cache = InMemoryCache::new();
    let users = cached(Arc::new(cache.clone()));
    let ada = seeded(&users, "ada").await;
    users.get(ada.id).await.unwrap();
    users.find_by_email(&ada.email).await.unwrap();

    let renamed = users
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), renamed);
    assert_eq!(
        users.find_by_email(&ada.email).await.unwrap(),
        Some(renamed.clone())
    );

    let moved = unique("countess");
    let moved_user = users
        .update(ada.id, 2, UserUpdate::new().with_email(moved.clone()))
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), moved_user);
    assert_eq!(users.find_by_email(&ada.email).await.unwrap(), None);
    assert_eq!(
        users.find_by_email(&moved).await.unwrap(),
        Some(moved_user.clone())
    );
    // The old address's entry was dropped, not merely outvoted.
    assert_eq!(
        cache.get(&email_key(&ada.email).unwrap()).await.unwrap(),
        None
    );

    // A stale version changes nothing, and the cache still answers with the truth.
    let stale = users
        .update(ada.id, 1, UserUpdate::new().with_name("Stale").unwrap())
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), ErrorKind::Conflict);
    assert_eq!(users.get(ada.id).await.unwrap(), moved_user);
}

#[tokio::test]
async fn an_address_entry_never_outlives_its_user() {
    let users = cached(Arc::new(InMemoryCache::new()));
    let ada = seeded(&users, "ada").await;
    assert!(users.find_by_email(&ada.email).await.unwrap().is_some());

    // Moved behind the decorator's back, and the id entry expired or evicted: the
    // address entry alone must not resurrect the old answer.
    let moved = unique("moved");
    users
        .inner()
        .update(ada.id, 1, UserUpdate::new().with_email(moved))
        .await
        .unwrap();
    users.update(ada.id, 2, UserUpdate::new()).await.unwrap();
    assert_eq!(users.find_by_email(&ada.email).await.unwrap(), None);
}

#[tokio::test]
async fn delete_invalidates() {
    let users = cached(Arc::new(InMemoryCache::new()));
    let ada = seeded(&users, "ada").await;
    users.get(ada.id).await.unwrap();
    users.find_by_email(&ada.email).await.unwrap();

    users.delete(ada.id).await.unwrap();
    let error = users.get(ada.id).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(users.find_by_email(&ada.email).await.unwrap(), None);

    // The address is free again, and finds the new user.
    let again = users
        .inner()
        .create(NewUser::new(ada.email.clone(), "Ada again").unwrap())
        .await
        .unwrap();
    assert_eq!(users.find_by_email(&ada.email).await.unwrap(), Some(again));
}

#[tokio::test]
async fn a_read_racing_an_update_does_not_leave_the_old_user_cached() {
    let users = Arc::new(cached(Arc::new(InMemoryCache::new())));
    let ada = seeded(&users, "ada").await;

    // The read loads version 1, then waits while the update goes through.
    let (read, release) = users.inner().pause_next_get();
    let reader = tokio::spawn({
        let users = Arc::clone(&users);
        async move { users.get(ada.id).await }
    });
    read.await.unwrap();
    let renamed = users
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    release.send(()).unwrap();
    assert_eq!(
        reader.await.unwrap().unwrap(),
        ada,
        "the racing read saw the old user"
    );

    assert_eq!(
        users.get(ada.id).await.unwrap(),
        renamed,
        "a read after the update MUST NOT see the old user"
    );
}

#[tokio::test]
async fn list_is_never_cached() {
    let users = cached(Arc::new(InMemoryCache::new()));
    seeded(&users, "ada").await;
    for _ in 0..2 {
        assert_eq!(users.list(UserQuery::default()).await.unwrap().total, 1);
    }
    assert_eq!(users.inner().lists(), 2);
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let clock = ManualClock::new();
    let users = cached(Arc::new(InMemoryCache::with_clock(clock.shared())));
    let ada = seeded(&users, "ada").await;
    users.get(ada.id).await.unwrap();

    // Changed behind the decorator's back: stale until the TTL passes, never longer.
    let renamed = users
        .inner()
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    clock.advance(TTL - Duration::from_millis(1));
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.inner().gets(), 1);
    clock.advance(Duration::from_millis(1));
    assert_eq!(users.get(ada.id).await.unwrap(), renamed);
    assert_eq!(users.inner().gets(), 2);
}

#[test]
fn zero_ttl_is_refused() {
    let error = CachedUserRepository::new(
        Arc::new(Counting::default()),
        Arc::new(InMemoryCache::new()),
        Duration::ZERO,
    )
    .unwrap_err();
    assert!(matches!(error, seam_cache::Error::Invalid { .. }));
}

/// Every user operation through `users`, checking each answer.
async fn exercise(users: &CachedUserRepository<Arc<Counting>>) {
    let ada = users
        .create(NewUser::new(unique("ada"), "Ada").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(
        users.find_by_email(&ada.email).await.unwrap(),
        Some(ada.clone())
    );
    let renamed = users
        .update(ada.id, 1, UserUpdate::new().with_name("Ada King").unwrap())
        .await
        .unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), renamed);
    users.delete(ada.id).await.unwrap();
    assert_eq!(
        users.get(ada.id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

fn bypassed(snapshotter: &Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == seam_cache::BYPASSED_TOTAL)
        .map(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

#[test]
fn a_cache_that_is_down_never_fails_a_request() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let users = cached(Arc::new(DownCache));
            exercise(&users).await;
            // Every read went to the repository.
            assert_eq!(users.inner().gets(), 4);
        });
    });
    assert!(bypassed(&snapshotter) > 0, "bypassed calls MUST be counted");
}

#[test]
fn a_cache_refusing_requests_never_fails_one_either() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let users = cached(Arc::new(RefusingCache));
            exercise(&users).await;
        });
    });
    assert!(bypassed(&snapshotter) > 0);
}

#[tokio::test]
async fn an_unreachable_redis_never_fails_a_request() {
    // Nothing listens on port 1: each call is refused at once, on loopback.
    let redis = seam_cache_redis::RedisCacheConfig::new("redis://127.0.0.1:1", "seam-test:")
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let users = cached(Arc::new(redis));
    exercise(&users).await;
    assert_eq!(users.inner().gets(), 4);
}

#[tokio::test]
async fn undecodable_entries_are_misses() {
    let cache = InMemoryCache::new();
    let users = cached(Arc::new(cache.clone()));
    let ada = seeded(&users, "ada").await;
    cache.set(&id_key(ada.id), b"not json", None).await.unwrap();
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.get(ada.id).await.unwrap(), ada);
    assert_eq!(users.inner().gets(), 1);
}
