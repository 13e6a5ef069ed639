//! The adapter on a real S3 server (s3s-fs, checking signatures); each test writes
//! under its own key prefix and removes what it wrote.

use std::time::Duration;

use bytes::Bytes;
use seam_storage::{ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions, SignedMethod};
use seam_storage_object_store::ObjectStoreStorage;

use crate::behaviour::{self, PART};
use crate::support::{require_s3, s3_access_key, s3_config, s3_secret_key, unique_prefix};

async fn s3() -> ObjectStoreStorage {
    let endpoint = require_s3().await;
    let mut config = s3_config(&endpoint, &s3_access_key(), &s3_secret_key());
    config.multipart_threshold = PART as u64;
    config.part_size = PART;
    config.build().expect("the S3 test configuration builds")
}

#[tokio::test]
async fn multipart_round_trip() {
    behaviour::multipart_round_trip(&s3().await, &unique_prefix("multipart")).await;
}

#[tokio::test]
async fn failing_multipart_body_keeps_the_old_object() {
    behaviour::failing_multipart_body_keeps_the_old_object(&s3().await, &unique_prefix("failing"))
        .await;
}

#[tokio::test]
async fn cancelled_upload_leaves_nothing() {
    behaviour::cancelled_upload_leaves_nothing(&s3().await, &unique_prefix("cancelled")).await;
}

#[tokio::test]
async fn create_only_large_body() {
    behaviour::create_only_large_body(&s3().await, &unique_prefix("create")).await;
}

#[tokio::test]
async fn signed_put_then_signed_get_with_a_plain_http_client() {
    let storage = s3().await;
    let key = ObjectKey::parse(&format!("{}/upload é.txt", unique_prefix("signed"))).unwrap();
    let client = reqwest::Client::new();

    let put = storage
        .signed_url(SignedMethod::Put, &key, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(put.method, SignedMethod::Put);
    assert!(put.expires_at > chrono::Utc::now());
    assert!(
        !format!("{put:?}").contains("Signature="),
        "Debug hides the signature"
    );
    let response = client
        .put(&put.url)
        .body("uploaded by a browser")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().await.unwrap_or_default()
    );
    assert_eq!(
        storage.get_bytes(&key).await.unwrap(),
        "uploaded by a browser"
    );

    let get = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(300))
        .await
        .unwrap();
    let response = client.get(&get.url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap(), "uploaded by a browser");

    // Without the signature the server refuses.
    let bare = get.url.split('?').next().unwrap().to_owned();
    assert_eq!(client.get(&bare).send().await.unwrap().status(), 403);
    storage.delete(&key).await.unwrap();
}

#[tokio::test]
async fn the_raw_store_sees_the_key_unchanged() {
    let storage = s3().await;
    let key = ObjectKey::parse(&format!("{}/100% done #1.txt", unique_prefix("raw"))).unwrap();
    storage
        .put_bytes(&key, Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap();
    let listed = storage.list_all(key.as_str()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, key);
    storage.delete(&key).await.unwrap();
    assert!(storage.list_all(key.as_str()).await.unwrap().is_empty());
}
