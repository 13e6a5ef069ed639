//! The conformance suite every [`Cache`] adapter passes (feature `conformance`).
//!
//! An adapter's integration test builds two caches on the same backend with different
//! key prefixes and calls [`run_all`]; the in-memory adapter runs the same suite in
//! this crate's tests. Each check is also public, to run alone.
//!
//! The checks clean up the keys they write, but they use fixed key names: give each
//! run a unique prefix when the backend is shared.

use std::time::Duration;

use seam_core::ManualClock;
use serde::{Deserialize, Serialize};

use crate::{Cache, CacheExt, Error, MAX_KEY_LEN};

/// How the suite lets a TTL pass.
#[derive(Debug, Clone)]
pub enum Expiry {
    /// The cache measures TTLs on this clock, and the suite advances it.
    Manual(ManualClock),
    /// The cache measures TTLs in real time: the suite stores entries with `ttl` and
    /// polls until they are gone, failing if that takes longer than `max_wait`.
    Real {
        /// The TTL to store with (keep it short: about a second).
        ttl: Duration,
        /// The longest the suite waits for the entry to disappear.
        max_wait: Duration,
    },
}

impl Expiry {
    /// Real time with a 1 s TTL and at most 10 s of waiting.
    pub fn real() -> Self {
        Self::Real {
            ttl: Duration::from_secs(1),
            max_wait: Duration::from_secs(10),
        }
    }
}

/// Runs every check.
///
/// `cache` and `isolated` MUST share a backend but use different key prefixes.
///
/// # Panics
///
/// On the first check that fails, naming the contract line broken.
pub async fn run_all(cache: &dyn Cache, isolated: &dyn Cache, expiry: &Expiry) {
    set_get_delete(cache).await;
    missing_keys(cache).await;
    overwrite_replaces_value(cache).await;
    binary_and_empty_values(cache).await;
    zero_ttl_refused(cache).await;
    ttl_expiry(cache, expiry).await;
    json_round_trip(cache).await;
    undecodable_json_is_a_miss(cache).await;
    invalid_keys_refused(cache).await;
    prefixes_isolate(cache, isolated).await;
}

async fn clear(cache: &dyn Cache, keys: &[&str]) {
    for key in keys {
        cache.delete(key).await.expect("delete before a check");
    }
}

/// A stored value is read back, and `delete` reports whether it removed one.
pub async fn set_get_delete(cache: &dyn Cache) {
    let key = "conformance:set-get";
    clear(cache, &[key]).await;
    cache.set(key, b"hello", None).await.expect("set");
    assert_eq!(
        cache.get(key).await.expect("get").as_deref(),
        Some(&b"hello"[..]),
        "get MUST return the value stored"
    );
    assert!(
        cache.delete(key).await.expect("delete"),
        "delete MUST return true when it removed an entry"
    );
    assert_eq!(
        cache.get(key).await.expect("get after delete"),
        None,
        "a deleted entry MUST be a miss"
    );
    assert!(
        !cache.delete(key).await.expect("second delete"),
        "delete MUST return false when there was no entry"
    );
}

/// A key never written is a miss, and deleting it returns false.
pub async fn missing_keys(cache: &dyn Cache) {
    let key = "conformance:never-written";
    clear(cache, &[key]).await;
    assert_eq!(cache.get(key).await.expect("get"), None);
    assert!(!cache.delete(key).await.expect("delete"));
}

/// `set` replaces a previous value.
pub async fn overwrite_replaces_value(cache: &dyn Cache) {
    let key = "conformance:overwrite";
    clear(cache, &[key]).await;
    cache.set(key, b"first", None).await.expect("first set");
    cache.set(key, b"second", None).await.expect("second set");
    assert_eq!(
        cache.get(key).await.expect("get").as_deref(),
        Some(&b"second"[..]),
        "set MUST replace the previous value"
    );
    cache.delete(key).await.expect("cleanup");
}

/// Values are bytes: non-UTF-8 and empty values come back unchanged.
pub async fn binary_and_empty_values(cache: &dyn Cache) {
    let binary = "conformance:binary";
    let empty = "conformance:empty";
    clear(cache, &[binary, empty]).await;
    let bytes: Vec<u8> = (0..=255).collect();
    cache.set(binary, &bytes, None).await.expect("set binary");
    cache.set(empty, b"", None).await.expect("set empty");
    assert_eq!(cache.get(binary).await.expect("get binary"), Some(bytes));
    assert_eq!(
        cache.get(empty).await.expect("get empty"),
        Some(Vec::new()),
        "an empty value MUST be a hit, not a miss"
    );
    clear(cache, &[binary, empty]).await;
}

/// A zero TTL is refused with `Invalid` and stores nothing.
pub async fn zero_ttl_refused(cache: &dyn Cache) {
    let key = "conformance:zero-ttl";
    clear(cache, &[key]).await;
    let result = cache.set(key, b"v", Some(Duration::ZERO)).await;
    assert!(
        matches!(result, Err(Error::Invalid { .. })),
        "a zero TTL MUST be refused with Invalid, got {result:?}"
    );
    assert_eq!(cache.get(key).await.expect("get"), None);
}

/// An entry disappears once its TTL passes; an entry without a TTL, or whose TTL was
/// removed by overwriting it without one, stays.
pub async fn ttl_expiry(cache: &dyn Cache, expiry: &Expiry) {
    let expiring = "conformance:ttl:expiring";
    let overwritten = "conformance:ttl:overwritten";
    let forever = "conformance:ttl:forever";
    clear(cache, &[expiring, overwritten, forever]).await;

    let ttl = match expiry {
        Expiry::Manual(_) => Duration::from_secs(30),
        Expiry::Real { ttl, .. } => *ttl,
    };
    cache.set(expiring, b"v", Some(ttl)).await.expect("set");
    cache.set(overwritten, b"v", Some(ttl)).await.expect("set");
    cache.set(overwritten, b"w", None).await.expect("overwrite");
    cache.set(forever, b"v", None).await.expect("set");
    assert!(
        cache.get(expiring).await.expect("get").is_some(),
        "an entry MUST be visible before its TTL passes"
    );

    match expiry {
        Expiry::Manual(clock) => {
            clock.advance(ttl - Duration::from_millis(1));
            assert!(
                cache.get(expiring).await.expect("get").is_some(),
                "an entry MUST be visible until its TTL passes"
            );
            clock.advance(Duration::from_millis(1));
            assert_eq!(
                cache.get(expiring).await.expect("get"),
                None,
                "an entry MUST be a miss once its TTL has passed"
            );
        }
        Expiry::Real { max_wait, .. } => {
            let poll = Duration::from_millis(50);
            let mut waited = Duration::ZERO;
            while cache.get(expiring).await.expect("get").is_some() {
                assert!(
                    waited < *max_wait,
                    "an entry with a TTL of {ttl:?} was still visible after {max_wait:?}"
                );
                tokio::time::sleep(poll).await;
                waited += poll;
            }
        }
    }
    assert!(
        !cache.delete(expiring).await.expect("delete"),
        "deleting an expired entry MUST return false"
    );
    assert_eq!(
        cache.get(overwritten).await.expect("get").as_deref(),
        Some(&b"w"[..]),
        "set without a TTL MUST replace the previous TTL"
    );
    assert!(
        cache.get(forever).await.expect("get").is_some(),
        "an entry without a TTL MUST NOT expire"
    );
    clear(cache, &[overwritten, forever]).await;
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Sample {
    id: u64,
    name: String,
    tags: Vec<String>,
    price: Option<i64>,
}

/// `set_json` / `get_json` round-trip a typed value.
pub async fn json_round_trip(cache: &dyn Cache) {
    let key = "conformance:json";
    clear(cache, &[key]).await;
    let value = Sample {
        id: 42,
        name: "Grüße, \"quoted\"".to_owned(),
        tags: vec!["a".to_owned(), "b".to_owned()],
        price: None,
    };
    cache
        .set_json(key, &value, Some(Duration::from_secs(300)))
        .await
        .expect("set_json");
    let back: Option<Sample> = cache.get_json(key).await.expect("get_json");
    assert_eq!(back, Some(value));
    let missing: Option<Sample> = cache
        .get_json("conformance:json-missing")
        .await
        .expect("get_json missing");
    assert_eq!(missing, None);
    cache.delete(key).await.expect("cleanup");
}

/// A stored value that does not decode as the type asked for is a miss, and is deleted.
pub async fn undecodable_json_is_a_miss(cache: &dyn Cache) {
    let key = "conformance:json-stale";
    clear(cache, &[key]).await;
    cache
        .set(key, br#"{"old":"shape"}"#, None)
        .await
        .expect("set");
    let got: Option<Sample> = cache.get_json(key).await.expect("get_json");
    assert_eq!(got, None, "an undecodable value MUST be a miss");
    assert_eq!(
        cache.get(key).await.expect("get"),
        None,
        "an undecodable value MUST be deleted"
    );
}

/// Malformed keys are refused with `Invalid` by every method, and nothing is stored.
pub async fn invalid_keys_refused(cache: &dyn Cache) {
    let too_long = "k".repeat(MAX_KEY_LEN + 1);
    for key in [
        "",
        "has space",
        "tab\there",
        "line\nbreak",
        "nul\0",
        &too_long,
    ] {
        let shown: String = key.chars().take(20).collect();
        let get = cache.get(key).await;
        assert!(
            matches!(get, Err(Error::Invalid { .. })),
            "get({shown:?}) MUST be Invalid, got {get:?}"
        );
        let set = cache.set(key, b"v", None).await;
        assert!(
            matches!(set, Err(Error::Invalid { .. })),
            "set({shown:?}) MUST be Invalid, got {set:?}"
        );
        let delete = cache.delete(key).await;
        assert!(
            matches!(delete, Err(Error::Invalid { .. })),
            "delete({shown:?}) MUST be Invalid, got {delete:?}"
        );
    }
    let longest = "k".repeat(MAX_KEY_LEN);
    cache
        .set(&longest, b"v", None)
        .await
        .expect("a key of MAX_KEY_LEN bytes MUST be accepted");
    assert!(cache.delete(&longest).await.expect("delete longest"));
}

/// Two caches with different prefixes on one backend do not see each other's keys.
pub async fn prefixes_isolate(cache: &dyn Cache, isolated: &dyn Cache) {
    let key = "conformance:isolated";
    clear(cache, &[key]).await;
    clear(isolated, &[key]).await;
    cache.set(key, b"mine", None).await.expect("set");
    assert_eq!(
        isolated.get(key).await.expect("get other"),
        None,
        "a cache MUST NOT see the keys of another prefix"
    );
    isolated.set(key, b"theirs", None).await.expect("set other");
    assert_eq!(
        cache.get(key).await.expect("get").as_deref(),
        Some(&b"mine"[..])
    );
    assert!(isolated.delete(key).await.expect("delete other"));
    assert_eq!(
        cache.get(key).await.expect("get").as_deref(),
        Some(&b"mine"[..]),
        "deleting under one prefix MUST NOT delete under another"
    );
    cache.delete(key).await.expect("cleanup");
}
