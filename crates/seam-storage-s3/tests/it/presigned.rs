//! Presigned GET and PUT URLs, used with a plain HTTP client.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use seam_core::ManualClock;
use seam_storage::{Error, ObjectStorage, ObjectStorageExt, SignedMethod};

use seam_storage_s3::Sse;

use crate::{cleanup, key, pattern, put, test_config, test_storage};

#[tokio::test]
async fn a_signed_put_then_a_signed_get_work_with_plain_reqwest() {
    let start = SystemTime::now();
    let clock = ManualClock::starting_at(start);
    let mut config = test_config();
    config.server_side_encryption = Some(Sse::S3);
    config.storage_class = Some("REDUCED_REDUNDANCY".into());
    let storage = config.build().unwrap().with_clock(clock.shared());
    let key = key("signed/upload.bin");
    let body = pattern(70_000, 7);
    let http = reqwest::Client::new();

    let put_url = storage
        .signed_url(SignedMethod::Put, &key, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(put_url.method, SignedMethod::Put);
    assert_eq!(
        put_url.expires_at,
        DateTime::<Utc>::from(start + Duration::from_secs(300))
    );
    assert!(
        put_url.url.contains("X-Amz-Signature="),
        "a SigV4 presigned URL"
    );
    // Only the host is signed, although the storage encrypts and sets a storage
    // class: a plain client needs no extra header.
    let signed_headers = put_url
        .url
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("X-Amz-SignedHeaders="));
    assert_eq!(signed_headers, Some("host"), "{}", put_url.url);
    let answer = http
        .put(&put_url.url)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_success(),
        "signed PUT answered {}",
        answer.status()
    );
    assert_eq!(storage.get_bytes(&key).await.unwrap(), body);

    let get_url = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(60))
        .await
        .unwrap();
    let answer = http.get(&get_url.url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.bytes().await.unwrap(), body);
    cleanup(&storage).await;
}

#[tokio::test]
async fn a_signed_url_grants_only_its_method_and_key() {
    let storage = test_storage();
    let (a, b) = (key("signed/a.txt"), key("signed/b.txt"));
    put(&storage, &a, "secret a").await;
    put(&storage, &b, "secret b").await;
    let http = reqwest::Client::new();
    let get_a = storage
        .signed_url(SignedMethod::Get, &a, Duration::from_secs(60))
        .await
        .unwrap();

    let other_key = get_a.url.replacen("/signed/a.txt", "/signed/b.txt", 1);
    assert_ne!(other_key, get_a.url);
    let answer = http.get(&other_key).send().await.unwrap();
    assert_eq!(answer.status(), 403, "a GET URL for a must not read b");

    let answer = http
        .put(&get_a.url)
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 403, "a GET URL must not write");
    assert_eq!(storage.get_bytes(&a).await.unwrap(), "secret a");
    cleanup(&storage).await;
}

#[tokio::test]
async fn an_expired_signed_url_is_refused() {
    // Signed two hours ago for one minute: expired long before now, without waiting.
    let clock = ManualClock::starting_at(SystemTime::now() - Duration::from_secs(7200));
    let storage = test_storage().with_clock(clock.shared());
    let key = key("signed/old.txt");
    put(&storage, &key, "old").await;
    let url = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(60))
        .await
        .unwrap();
    let answer = reqwest::get(&url.url).await.unwrap();
    assert_eq!(answer.status(), 403);
    cleanup(&storage).await;
}

#[tokio::test]
async fn lifetimes_outside_one_second_to_seven_days_are_invalid() {
    let storage = test_storage();
    let key = key("signed/x");
    for expires_in in [
        Duration::ZERO,
        Duration::from_millis(500),
        Duration::from_secs(7 * 24 * 3600 + 1),
    ] {
        for method in [SignedMethod::Get, SignedMethod::Put] {
            let error = storage
                .signed_url(method, &key, expires_in)
                .await
                .unwrap_err();
            assert!(
                matches!(error, Error::Invalid(_)),
                "{expires_in:?}: {error}"
            );
        }
    }
    // The longest allowed lifetime is accepted.
    storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(7 * 24 * 3600))
        .await
        .unwrap();
}

#[tokio::test]
async fn signed_urls_do_not_leak_in_debug() {
    let storage = test_storage();
    let url = storage
        .signed_url(SignedMethod::Get, &key("signed/x"), Duration::from_secs(60))
        .await
        .unwrap();
    let shown = format!("{url:?} {storage:?}");
    assert!(!shown.contains("X-Amz-Signature="), "{shown}");
    assert!(!shown.contains(crate::SECRET_KEY), "{shown}");
}
