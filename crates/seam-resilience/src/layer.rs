//! The pipeline as a `tower::Layer`, for clients built as tower services.

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use seam_core::Classify;
use tower::{Layer, Service, ServiceExt};

use crate::error::ResilienceError;
use crate::pipeline::Pipeline;

/// Wraps a service in a [`Pipeline`]: every request goes through its policies.
///
/// A pipeline with one policy is that policy as a layer, for example
/// `ResilienceLayer::new(Pipeline::builder().circuit_breaker(breaker).build())`.
///
/// Requirements: the inner service is `Clone` (each attempt calls a clone, as tower
/// recommends, so that readiness is awaited per attempt inside the policies), requests
/// are `Clone` (a retry sends the request again) and the error is [`Classify`].
#[derive(Debug, Clone)]
pub struct ResilienceLayer {
    pipeline: Arc<Pipeline>,
}

impl ResilienceLayer {
    /// A layer applying `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        Self {
            pipeline: Arc::new(pipeline),
        }
    }
}

impl<S> Layer<S> for ResilienceLayer {
    type Service = ResilienceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResilienceService {
            inner,
            pipeline: self.pipeline.clone(),
        }
    }
}

/// A service wrapped by a [`ResilienceLayer`]; its error is [`ResilienceError`] of the
/// inner service's error.
#[derive(Debug, Clone)]
pub struct ResilienceService<S> {
    inner: S,
    pipeline: Arc<Pipeline>,
}

impl<S, Req> Service<Req> for ResilienceService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Classify + Send,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = ResilienceError<S::Error>;
    type Future = BoxFuture<'static, Result<S::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Always ready: readiness of the inner service is awaited on a clone inside each
        // attempt, where the timeout and the breaker can see it. Reserving capacity here
        // would hold it while the policies back off.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Req) -> Self::Future {
        let pipeline = self.pipeline.clone();
        // In a Mutex only to be Sync: the pipeline borrows the per-attempt closure across
        // awaits, and tower services and requests are often Send but not Sync.
        let state = Mutex::new((self.inner.clone(), request));
        Box::pin(async move {
            pipeline
                .call(|| {
                    let (service, request) = {
                        let guard = state.lock().unwrap_or_else(PoisonError::into_inner);
                        (guard.0.clone(), guard.1.clone())
                    };
                    service.oneshot(request)
                })
                .await
        })
    }
}
