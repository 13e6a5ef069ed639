//! Failures map to the port's errors: wrong credentials, an unreachable server, a
//! missing bucket, a tampered signed URL, what a local directory cannot do.

use std::time::Duration;

use bytes::Bytes;
use seam_core::{Classify, ErrorKind};
use seam_storage::{
    Error, ListOptions, ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions, SignedMethod,
};
use seam_storage_object_store::{BackendConfig, ObjectStoreConfig, S3Config};

use crate::support::{
    require_s3, s3_access_key, s3_config, s3_secret_key, s3_storage, unique_prefix,
};

fn key(prefix: &str, name: &str) -> ObjectKey {
    ObjectKey::parse(&format!("{prefix}/{name}")).unwrap()
}

#[tokio::test]
async fn a_wrong_secret_is_unauthorized() {
    let endpoint = require_s3().await;
    let storage = s3_config(&endpoint, &s3_access_key(), "not-the-secret")
        .build()
        .unwrap();
    let key = key(&unique_prefix("wrong-secret"), "a.txt");
    let put = storage
        .put_bytes(&key, Bytes::from_static(b"x"), PutOptions::default())
        .await;
    assert!(matches!(put, Err(Error::Unauthorized(_))), "{put:?}");
    let head = storage.head(&key).await;
    assert_eq!(head.unwrap_err().kind(), ErrorKind::Unauthorized);
    let list = storage.list(ListOptions::prefix("it-")).await;
    assert_eq!(list.unwrap_err().kind(), ErrorKind::Unauthorized);
}

#[tokio::test]
async fn an_unknown_access_key_is_unauthorized() {
    let endpoint = require_s3().await;
    let storage = s3_config(&endpoint, "nobody", &s3_secret_key())
        .build()
        .unwrap();
    let key = key(&unique_prefix("unknown-key"), "a.txt");
    let error = storage.get_bytes(&key).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
}

#[tokio::test]
async fn a_server_nobody_listens_on_is_transient() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let storage = s3_config(&endpoint, &s3_access_key(), &s3_secret_key())
        .build()
        .unwrap();
    let key = key("it-unreachable", "a.txt");
    let error = storage.get_bytes(&key).await.unwrap_err();
    assert!(matches!(error, Error::Transient { .. }), "{error:?}");
    assert!(error.is_retryable());
    let error = storage
        .put_bytes(&key, Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable() {
    let endpoint = require_s3().await;
    let mut config = s3_config(&endpoint, &s3_access_key(), &s3_secret_key());
    let BackendConfig::S3(S3Config { bucket, .. }) = &mut config.store else {
        unreachable!("an S3 configuration");
    };
    *bucket = format!("seam-missing-{}", uuid::Uuid::now_v7().simple());
    bucket.truncate(63);
    let storage = config.build().unwrap();
    // A listing names the bucket in its answer (s3s-fs answers a GET in a missing
    // bucket with NoSuchKey, where AWS says NoSuchBucket).
    let error = storage.list(ListOptions::prefix("it-")).await.unwrap_err();
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_tampered_signed_url_is_refused_by_the_server() {
    let storage = s3_storage().await;
    let key = key(&unique_prefix("tampered"), "a.txt");
    storage
        .put_bytes(
            &key,
            Bytes::from_static(b"secret report"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let signed = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(60))
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let good = client.get(&signed.url).send().await.unwrap();
    assert_eq!(good.status(), 200);
    assert_eq!(good.bytes().await.unwrap(), "secret report");

    // Another key with the same signature.
    let other = signed.url.replacen("/a.txt?", "/b.txt?", 1);
    assert_ne!(other, signed.url);
    assert_eq!(client.get(&other).send().await.unwrap().status(), 403);
    // A PUT with a URL signed for GET.
    let put = client
        .put(&signed.url)
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert_eq!(storage.get_bytes(&key).await.unwrap(), "secret report");
    storage.delete(&key).await.unwrap();
}

#[tokio::test]
async fn signed_url_lifetimes_are_checked_before_anything_else() {
    let storage = s3_storage().await;
    let key = key("it-expiry", "a.txt");
    for bad in [Duration::ZERO, Duration::from_secs(8 * 24 * 3600)] {
        let error = storage
            .signed_url(SignedMethod::Put, &key, bad)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    }
}

#[tokio::test]
async fn a_local_directory_cannot_sign_urls() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
    let key = ObjectKey::parse("a.txt").unwrap();
    let error = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::NotSupported {
                operation: "signed_url",
                adapter: "object_store-local"
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_local_sidecar_tree_is_reserved_and_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
    let reserved = ObjectKey::parse(".seam-meta/a.txt.json").unwrap();
    let error = storage
        .put_bytes(&reserved, Bytes::from_static(b"{}"), PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidKey { .. }), "{error:?}");
    let error = storage.get_bytes(&reserved).await.unwrap_err();
    assert!(matches!(error, Error::InvalidKey { .. }), "{error:?}");

    let key = ObjectKey::parse("a.txt").unwrap();
    let options = PutOptions {
        content_type: Some("text/plain".into()),
        ..PutOptions::default()
    };
    storage
        .put_bytes(&key, Bytes::from_static(b"x"), options)
        .await
        .unwrap();
    assert!(
        dir.path().join(".seam-meta/a.txt.json").is_file(),
        "the sidecar is written"
    );
    let listed = storage.list_all("").await.unwrap();
    let keys: Vec<_> = listed.iter().map(|meta| meta.key.as_str()).collect();
    assert_eq!(keys, ["a.txt"]);
    storage.delete(&key).await.unwrap();
    assert!(
        !dir.path().join(".seam-meta/a.txt.json").exists(),
        "the sidecar is removed"
    );
}

/// A scripted S3 endpoint answering every request with `template`.
async fn scripted(
    template: wiremock::ResponseTemplate,
) -> (
    wiremock::MockServer,
    seam_storage_object_store::ObjectStoreStorage,
) {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(template)
        .mount(&server)
        .await;
    let storage = s3_config(&server.uri(), &s3_access_key(), &s3_secret_key())
        .build()
        .unwrap();
    (server, storage)
}

fn s3_error(status: u16, code: &str) -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(status)
        .insert_header("content-type", "application/xml")
        .set_body_string(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>scripted</Message></Error>"
        ))
}

#[tokio::test]
async fn slow_down_and_429_are_rate_limited() {
    for template in [s3_error(503, "SlowDown"), s3_error(429, "TooManyRequests")] {
        let (_server, storage) = scripted(template).await;
        let key = ObjectKey::parse("it-scripted/a.txt").unwrap();
        let error = storage.get_bytes(&key).await.unwrap_err();
        assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
        let error = storage.list(ListOptions::prefix("it-")).await.unwrap_err();
        assert!(matches!(error, Error::RateLimited { .. }), "{error:?}");
    }
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in [500, 502, 503] {
        let (_server, storage) = scripted(s3_error(status, "InternalError")).await;
        let key = ObjectKey::parse("it-scripted/a.txt").unwrap();
        let error = storage
            .put_bytes(&key, Bytes::from_static(b"x"), PutOptions::default())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Transient, "{status}: {error}");
    }
}

#[tokio::test]
async fn access_denied_is_forbidden() {
    let (_server, storage) = scripted(s3_error(403, "AccessDenied")).await;
    let key = ObjectKey::parse("it-scripted/a.txt").unwrap();
    let error = storage.get_bytes(&key).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden(_)), "{error:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections and reads requests, never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = s3_config(&endpoint, &s3_access_key(), &s3_secret_key());
    config.request_timeout = Duration::from_millis(300);
    config.read_timeout = Duration::from_millis(300);
    let storage = config.build().unwrap();
    let key = ObjectKey::parse("it-silent/a.txt").unwrap();
    let error = storage.get_bytes(&key).await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
    assert!(error.is_retryable());
    silent.abort();
}

#[tokio::test]
async fn an_expired_signed_url_is_refused_by_the_server() {
    let storage = s3_storage().await;
    let key = key(&unique_prefix("expired"), "a.txt");
    storage
        .put_bytes(
            &key,
            Bytes::from_static(b"short-lived"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let signed = storage
        .signed_url(SignedMethod::Get, &key, Duration::from_secs(1))
        .await
        .unwrap();
    // Well past the one second (signatures carry whole seconds); the server decides.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let response = reqwest::Client::new()
        .get(&signed.url)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    storage.delete(&key).await.unwrap();
}

#[tokio::test]
async fn a_create_with_a_wrong_secret_is_unauthorized() {
    let endpoint = require_s3().await;
    let storage = s3_config(&endpoint, &s3_access_key(), "not-the-secret")
        .build()
        .unwrap();
    let key = key(&unique_prefix("create-wrong-secret"), "a.txt");
    let create = PutOptions {
        mode: seam_storage::PutMode::Create,
        ..PutOptions::default()
    };
    let error = storage
        .put_bytes(&key, Bytes::from_static(b"x"), create)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unauthorized(_)), "{error:?}");
}
