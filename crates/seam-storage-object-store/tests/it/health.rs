//! The health check: up when the backend answers and accepts the credentials.

use seam_core::{HealthCheck, HealthStatus};
use seam_storage_object_store::ObjectStoreConfig;

use crate::support::{require_s3, s3_access_key, s3_config, s3_secret_key, s3_storage};

#[tokio::test]
async fn a_local_directory_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
    assert_eq!(storage.name(), "storage-object_store-local");
    assert_eq!(storage.check().await.status, HealthStatus::Up);
}

#[tokio::test]
async fn the_s3_server_is_up_with_the_right_credentials() {
    let storage = s3_storage().await;
    let health = storage.check().await;
    assert_eq!(health.status, HealthStatus::Up, "{health:?}");
}

#[tokio::test]
async fn the_s3_server_is_down_with_a_wrong_secret_and_says_why() {
    let endpoint = require_s3().await;
    let storage = s3_config(&endpoint, &s3_access_key(), "not-the-secret")
        .build()
        .unwrap();
    let health = storage.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    let detail = health.detail.unwrap_or_default();
    assert!(detail.contains("credentials rejected"), "{detail}");
    assert!(
        !detail.contains("not-the-secret"),
        "the detail never shows the secret"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = s3_config(
        &format!("http://127.0.0.1:{port}"),
        &s3_access_key(),
        &s3_secret_key(),
    )
    .build()
    .unwrap();
    assert_eq!(storage.check().await.status, HealthStatus::Down);
}
