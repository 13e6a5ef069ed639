//! Metrics for any storage: a decorator counting requests and the bytes that flow.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use metrics::Counter;

use crate::ObjectStorage;
use crate::body::ByteStream;
use crate::error::Result;
use crate::key::ObjectKey;
use crate::types::{
    GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutOptions, PutResult, SignedMethod,
    SignedUrl,
};

/// The request counter: `seam_storage_requests_total{adapter, op}`.
pub const REQUESTS_TOTAL: &str = "seam_storage_requests_total";
/// The byte counter: `seam_storage_bytes_total{adapter, direction="in"|"out"}`, where
/// `in` is written to storage and `out` is read from it.
pub const BYTES_TOTAL: &str = "seam_storage_bytes_total";

/// Counts requests per operation and the bytes of bodies as they stream through.
///
/// Bytes are counted chunk by chunk, so a body read halfway counts halfway. With the
/// `telemetry` feature, `with_port_metrics` also records the
/// standard `seam_port_calls_total` / `seam_port_call_seconds` (port `storage`) for
/// adapters that do not record them themselves.
#[derive(Debug, Clone)]
pub struct MeteredStorage {
    inner: Arc<dyn ObjectStorage>,
    #[cfg(feature = "telemetry")]
    port_metrics: Option<seam_telemetry::PortMetrics>,
}

impl MeteredStorage {
    /// Meters `inner`.
    pub fn new(inner: Arc<dyn ObjectStorage>) -> Self {
        Self {
            inner,
            #[cfg(feature = "telemetry")]
            port_metrics: None,
        }
    }

    /// Also records the standard port-call metrics and span.
    #[cfg(feature = "telemetry")]
    #[must_use]
    pub fn with_port_metrics(mut self) -> Self {
        self.port_metrics = Some(seam_telemetry::PortMetrics::new(
            "storage",
            self.inner.adapter(),
        ));
        self
    }

    fn request(&self, op: &'static str) {
        metrics::counter!(REQUESTS_TOTAL, "adapter" => self.inner.adapter(), "op" => op)
            .increment(1);
    }

    fn bytes(&self, direction: &'static str) -> Counter {
        metrics::counter!(BYTES_TOTAL, "adapter" => self.inner.adapter(), "direction" => direction)
    }

    async fn observe<T, F>(&self, op: &'static str, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>> + Send,
    {
        self.request(op);
        #[cfg(feature = "telemetry")]
        if let Some(port_metrics) = &self.port_metrics {
            return port_metrics.call(op, call).await;
        }
        call.await
    }
}

fn counted(body: ByteStream, counter: Counter) -> ByteStream {
    body.inspect(move |chunk| {
        if let Ok(chunk) = chunk {
            counter.increment(chunk.len() as u64);
        }
    })
    .boxed()
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStorage for MeteredStorage {
    fn adapter(&self) -> &'static str {
        self.inner.adapter()
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        let body = counted(body, self.bytes("in"));
        self.observe("put", self.inner.put(key, body, options))
            .await
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        let mut result = self.observe("get", self.inner.get(key, options)).await?;
        result.body = counted(result.body, self.bytes("out"));
        Ok(result)
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.observe("head", self.inner.head(key)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.observe("delete", self.inner.delete(key)).await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.observe("list", self.inner.list(options)).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        self.observe("copy", self.inner.copy(from, to)).await
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        self.observe("signed_url", self.inner.signed_url(method, key, expires_in))
            .await
    }
}
