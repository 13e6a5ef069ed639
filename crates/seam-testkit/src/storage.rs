//! What the storage adapters' tests share: a plain HTTP client for the conformance
//! suite's signed-URL checks.

use async_trait::async_trait;
use bytes::Bytes;
use seam_storage::BoxError;
use seam_storage::conformance::SignedUrlClient;

/// Uses signed URLs the way a browser or `curl` would: no credentials, no SDK, just
/// the URL (and the content type the signature may cover).
#[derive(Debug, Default, Clone)]
pub struct HttpSignedUrlClient(reqwest::Client);

#[async_trait]
impl SignedUrlClient for HttpSignedUrlClient {
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
