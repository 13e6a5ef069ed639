//! The port's conformance suite on a local directory and on the S3 server, with a
//! plain `reqwest` client trying the signed URLs.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use seam_storage::conformance::{self, Capabilities, SignedUrlClient};
use seam_storage::{BoxError, ObjectStorage};
use seam_storage_object_store::ObjectStoreConfig;

use crate::behaviour;
use crate::support::s3_storage;

/// Signed URLs tried the way a browser or `curl` would: no credentials, just the URL.
#[derive(Debug, Default)]
struct Reqwest(reqwest::Client);

#[async_trait]
impl SignedUrlClient for Reqwest {
    async fn get(&self, url: &str) -> Result<(u16, Bytes), BoxError> {
        let response = self.0.get(url).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.bytes().await?))
    }

    async fn put(
        &self,
        url: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<u16, BoxError> {
        let mut request = self.0.put(url).body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        Ok(request.send().await?.status().as_u16())
    }
}

/// The suite's checks, as `run_all` runs them, but for one: `lists_in_order_across_pages`
/// writes both `c` and `c/d`, which no file-backed store can hold (a file cannot also
/// be a directory: LocalFileSystem and s3s-fs refuse it, as MinIO's FS mode does).
/// [`behaviour::lists_in_order_across_pages`] checks the same ordering and paging with
/// keys a file system can hold.
async fn run_all_but_nested_keys(storage: &dyn ObjectStorage, caps: Capabilities) {
    conformance::round_trips_empty_and_small_objects(storage).await;
    conformance::streams_a_large_object(storage, caps.max_test_body).await;
    conformance::reads_ranges(storage).await;
    conformance::round_trips_metadata_and_content_type(storage).await;
    conformance::refuses_bad_options(storage).await;
    behaviour::lists_in_order_across_pages(storage).await;
    conformance::list_prefixes_isolate(storage).await;
    conformance::continuation_token_stays_within_its_prefix(storage).await;
    conformance::copies_objects(storage).await;
    conformance::deletes_idempotently(storage).await;
    conformance::missing_keys_are_not_found(storage).await;
    conformance::create_mode_refuses_existing_objects(storage).await;
    conformance::failed_body_leaves_the_previous_object(storage).await;
    conformance::refuses_bad_keys_and_prefixes(storage).await;
    conformance::signed_urls(storage, &caps).await;
}

#[tokio::test]
async fn local_directory() {
    let dir = tempfile::tempdir().unwrap();
    let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
    run_all_but_nested_keys(&storage, Capabilities::default()).await;
}

#[tokio::test]
async fn s3_server() {
    let storage = s3_storage().await;
    let caps = Capabilities {
        signed_urls: true,
        signed_url_client: Some(Arc::new(Reqwest::default())),
        ..Capabilities::default()
    };
    run_all_but_nested_keys(&storage, caps).await;
}
