//! The storage port's conformance suite, against the real S3-compatible test server.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use seam_storage::BoxError;
use seam_storage::conformance::{self, Capabilities, SignedUrlClient};

use crate::test_storage;

/// Tries signed URLs with plain `reqwest`: no credentials, no SDK.
#[derive(Debug, Default)]
struct Reqwest(reqwest::Client);

#[async_trait]
impl SignedUrlClient for Reqwest {
    async fn get(&self, url: &str) -> Result<(u16, Bytes), BoxError> {
        let answer = self.0.get(url).send().await?;
        let status = answer.status().as_u16();
        Ok((status, answer.bytes().await?))
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

#[tokio::test]
async fn the_s3_adapter_passes_the_storage_conformance_suite() {
    // Below a root prefix of its own, which the adapter must make invisible.
    let storage = test_storage();
    let caps = Capabilities {
        signed_urls: true,
        signed_url_client: Some(Arc::new(Reqwest::default())),
        ..Capabilities::default()
    };
    conformance::run_all(&storage, caps).await;
    crate::cleanup(&storage).await;
}
