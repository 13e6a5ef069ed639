//! Where the test S3 server is, and configurations pointing at it.

use std::time::Duration;

use seam_storage_object_store::{
    BackendConfig, ObjectStoreConfig, ObjectStoreStorage, RetrySettings, S3Config,
};

/// The S3 server's endpoint: `$SEAM_TEST_S3_ENDPOINT`, default `http://127.0.0.1:9000`.
pub(crate) fn s3_endpoint() -> String {
    env_or("SEAM_TEST_S3_ENDPOINT", "http://127.0.0.1:9000")
}

/// The bucket `scripts/s3-server.sh` creates.
pub(crate) fn s3_bucket() -> String {
    env_or("SEAM_TEST_S3_BUCKET", "seam-test")
}

/// The access key the server accepts.
pub(crate) fn s3_access_key() -> String {
    env_or("SEAM_TEST_S3_ACCESS_KEY", "seam-test-access")
}

/// Its secret.
pub(crate) fn s3_secret_key() -> String {
    env_or("SEAM_TEST_S3_SECRET_KEY", "seam-test-secret-key")
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Fails the test, naming the server and how to start it, when the S3 server does not
/// answer.
pub(crate) async fn require_s3() -> String {
    let endpoint = s3_endpoint();
    let address = seam_testkit::url_address(&endpoint);
    seam_testkit::require_service_async(
        "S3 server (s3s-fs: `scripts/s3-server.sh start`)",
        &address,
    )
    .await;
    endpoint
}

/// A configuration for the test server with the given credentials, retrying little so
/// failures show quickly.
pub(crate) fn s3_config(endpoint: &str, access_key: &str, secret_key: &str) -> ObjectStoreConfig {
    let mut config = ObjectStoreConfig::new(BackendConfig::S3(S3Config {
        bucket: s3_bucket(),
        region: "us-east-1".into(),
        endpoint: Some(endpoint.to_owned()),
        access_key_id: Some(access_key.to_owned()),
        secret_access_key: Some(secret_key.parse().expect("a secret")),
        session_token: None,
        allow_http: true,
        virtual_hosted_style: false,
    }));
    config.retry = RetrySettings {
        max_retries: 0,
        retry_timeout: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(100),
    };
    config
}

/// The adapter on the test S3 server with the right credentials.
pub(crate) async fn s3_storage() -> ObjectStoreStorage {
    let endpoint = require_s3().await;
    s3_config(&endpoint, &s3_access_key(), &s3_secret_key())
        .build()
        .expect("the S3 test configuration builds")
}

/// A key prefix no other test run uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    format!("it-{test}-{}", uuid::Uuid::now_v7())
}
