//! Integration tests of the S3 adapter: against the real S3-compatible test server
//! (s3s-fs on 127.0.0.1:9000, `scripts/s3-server.sh start`), which checks SigV4
//! signatures, and against wiremock where the exact request headers matter.

mod conformance;
mod encryption;
mod errors;
mod headers;
mod multipart;
mod presigned;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use bytes::Bytes;
use seam_core::SecretString;
use seam_storage::{ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions};
use seam_storage_s3::{S3Config, S3Storage};

/// Overrides [`DEFAULT_ENDPOINT`].
pub const ENDPOINT_ENV: &str = "SEAM_TEST_S3_ENDPOINT";
/// The test server `scripts/s3-server.sh` starts.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:9000";
/// Its access key, secret and bucket (fixed test values; the server only listens on
/// loopback).
pub const ACCESS_KEY: &str = "seam-test-access";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "seam-test-secret-key";
/// The bucket the script creates.
pub const BUCKET: &str = "seam-test";

/// The test server's endpoint; fails the test, naming the server and how to start it,
/// when nothing answers there. Never skips.
pub fn require_s3() -> String {
    let endpoint = std::env::var(ENDPOINT_ENV)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
    let addr = seam_testkit::url_address(&endpoint);
    let reachable = addr.to_socket_addrs().is_ok_and(|mut addrs| {
        addrs.any(|socket| TcpStream::connect_timeout(&socket, Duration::from_secs(2)).is_ok())
    });
    assert!(
        reachable,
        "the S3-compatible test server (s3s-fs) is not reachable at {addr}. These tests need \
         it and never skip. Start it with `scripts/s3-server.sh start` (or set \
         {ENDPOINT_ENV}), then run the tests again."
    );
    endpoint
}

/// A configuration for the test server with every key below a fresh root prefix, so
/// tests running in parallel never see each other's objects.
pub fn test_config() -> S3Config {
    let endpoint = require_s3();
    let mut config = S3Config::new(
        BUCKET,
        "us-east-1",
        ACCESS_KEY,
        SecretString::new(SECRET_KEY.to_owned()),
    )
    .with_endpoint(endpoint);
    config.root = format!("s3-it-{}/", uuid::Uuid::now_v7());
    config
}

/// A storage for the test server below a fresh root prefix.
pub fn test_storage() -> S3Storage {
    test_config()
        .build()
        .expect("the test configuration is valid")
}

/// Parses a key the test knows to be valid.
pub fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).expect("a valid test key")
}

/// `len` bytes of a pattern that differs per position, so misplaced parts show.
pub fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

/// Writes `bytes` at `key` with default options.
pub async fn put(storage: &S3Storage, key: &ObjectKey, bytes: impl Into<Bytes>) {
    storage
        .put_bytes(key, bytes.into(), PutOptions::default())
        .await
        .expect("put");
}

/// Deletes every object below the storage's root prefix (the test's own objects).
pub async fn cleanup(storage: &S3Storage) {
    let objects = storage.list_all("").await.expect("list for cleanup");
    for object in objects {
        storage
            .delete(&object.key)
            .await
            .expect("delete for cleanup");
    }
}
