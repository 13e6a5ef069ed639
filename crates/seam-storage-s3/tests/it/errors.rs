//! Failures: rejected credentials, an unreachable server, a missing bucket, bad config.

use std::net::TcpListener;

use seam_core::{Classify, ErrorKind, SecretString};
use seam_storage::{Error, ListOptions, ObjectStorage, ObjectStorageExt, PutOptions};
use seam_storage_s3::S3Config;

use crate::{key, test_config};

#[tokio::test]
async fn a_wrong_secret_is_unauthorized() {
    let mut config = test_config();
    config.secret_access_key = Some(SecretString::new("not-the-secret".into()));
    let storage = config.build().unwrap();
    let error = storage
        .put_bytes(&key("a.txt"), "x".into(), PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unauthorized(_)), "{error}");
    let error = storage.list(ListOptions::default()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    let error = storage.head(&key("a.txt")).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized(_)), "{error}");
    assert!(!error.to_string().contains("not-the-secret"), "{error}");
}

#[tokio::test]
async fn an_unknown_access_key_is_unauthorized() {
    let mut config = test_config();
    config.access_key_id = Some("nobody".into());
    let storage = config.build().unwrap();
    // A HEAD answer has no error code; the adapter asks again to tell.
    let error = storage.head(&key("a.txt")).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized(_)), "{error}");
    let error = storage.get_bytes(&key("a.txt")).await.unwrap_err();
    assert!(matches!(error, Error::Unauthorized(_)), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_is_transient() {
    // A port we bound and released: nothing listens there.
    let addr = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let storage = S3Config::new(
        "seam-test",
        "us-east-1",
        "access",
        SecretString::new("secret".into()),
    )
    .with_endpoint(format!("http://{addr}"))
    .build()
    .unwrap();
    let error = storage.head(&key("a.txt")).await.unwrap_err();
    assert!(matches!(error, Error::Transient { .. }), "{error}");
    assert!(error.is_retryable());
    let error = storage
        .put_bytes(&key("a.txt"), "x".into(), PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transient { .. }), "{error}");
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable() {
    let mut config = test_config();
    config.bucket = format!("seam-missing-{}", uuid::Uuid::now_v7().simple());
    config.bucket.truncate(40);
    let storage = config.build().unwrap();
    let error = storage.list(ListOptions::default()).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error}");
}

#[tokio::test]
async fn missing_objects_are_not_found_and_deleting_them_succeeds() {
    let storage = crate::test_storage();
    let missing = key("nothing/here.txt");
    assert!(storage.head(&missing).await.unwrap_err().is_not_found());
    assert!(
        storage
            .get_bytes(&missing)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let error = storage.copy(&missing, &key("copy.txt")).await.unwrap_err();
    assert!(
        matches!(&error, Error::NotFound { key } if *key == missing),
        "{error}"
    );
    storage.delete(&missing).await.unwrap();
}

#[test]
fn build_refuses_a_bad_configuration_naming_each_problem() {
    let mut config = S3Config::new("B", "", "", SecretString::new(String::new()));
    config.endpoint = Some("ftp://x".into());
    config.storage_class = Some("FROZEN".into());
    config.root = "no-slash".into();
    let error = config.build().unwrap_err();
    let Error::Invalid(message) = &error else {
        panic!("expected Invalid, got {error}");
    };
    for needle in [
        "S3 storage configuration",
        "`bucket`",
        "`region`",
        "`endpoint`",
        "`access_key_id`",
        "`secret_access_key`",
        "`storage_class` \"FROZEN\"",
        "`root` \"no-slash\" must end with `/`",
    ] {
        assert!(message.contains(needle), "{needle} missing in {message}");
    }
}

#[tokio::test]
async fn the_health_check_heads_the_bucket() {
    use seam_core::{HealthCheck, HealthStatus};

    let storage = crate::test_storage();
    assert_eq!(storage.name(), "storage-s3");
    assert_eq!(storage.check().await.status, HealthStatus::Up);

    let mut config = test_config();
    config.secret_access_key = Some(SecretString::new("not-the-secret".into()));
    let health = config.build().unwrap().check().await;
    assert_eq!(health.status, HealthStatus::Down);
    let detail = health.detail.unwrap_or_default();
    assert!(detail.contains("seam-test"), "{detail}");
    assert!(!detail.contains("not-the-secret"), "{detail}");
}
