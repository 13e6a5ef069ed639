//! Resilience policies for any async call: timeout, retry with backoff and budget,
//! circuit breaker, bulkhead, rate limit and fallback.
//!
//! Each policy works alone over a closure returning a future (`Fn() -> Fut` where
//! `Fut: Future<Output = Result<T, E>>` and `E: Classify`), and they compose in one
//! order in a [`Pipeline`]:
//!
//! ```text
//! fallback( timeout( retry( circuit breaker( rate limit( bulkhead( attempt timeout( call )))))))
//! ```
//!
//! Policies decide on [`ErrorKind`](seam_core::ErrorKind) alone: retry only retries what
//! is retryable, the breaker only counts upstream failures. Every policy reports
//! failures and rejections as a [`ResilienceError`], which is itself [`Classify`], so a
//! port decorator can map it into its own port error.
//!
//! All waiting and timing goes through a [`Clock`](seam_core::Clock) (except
//! timeouts and bulkhead waits, which need Tokio's timer to interrupt a future), so
//! tests drive policies with a [`ManualClock`](seam_core::ManualClock) and never sleep.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//!
//! use seam_core::{Classify, ErrorKind, HealthCheck, SystemClock};
//! use seam_resilience::{
//!     CircuitBreaker, CircuitBreakerConfig, Fallback, Pipeline, ResilienceConfig, Retry,
//! };
//!
//! #[derive(Debug)]
//! struct QuoteError(ErrorKind);
//!
//! impl Classify for QuoteError {
//!     fn kind(&self) -> ErrorKind {
//!         self.0
//!     }
//! }
//!
//! async fn fetch_quote() -> Result<u64, QuoteError> {
//!     Err(QuoteError(ErrorKind::Unavailable))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let clock = SystemClock::shared();
//! let breaker = CircuitBreaker::new(
//!     "quotes",
//!     &CircuitBreakerConfig { failure_count_threshold: Some(5), ..Default::default() },
//!     clock.clone(),
//! )
//! .unwrap();
//! let pipeline = Pipeline::builder()
//!     .timeout(Duration::from_secs(5))
//!     .retry(Retry::new("quotes", clock.clone()).with_backoff(
//!         Duration::from_millis(1),
//!         Duration::from_millis(10),
//!     ))
//!     .circuit_breaker(breaker.clone())
//!     .build();
//!
//! // Register the breaker with the health registry: "breaker:quotes".
//! assert_eq!(breaker.name(), "quotes");
//! assert_eq!(HealthCheck::name(&breaker), "breaker:quotes");
//!
//! // Service, then a cached value, then a default.
//! let quote = Fallback::new(|| pipeline.call(fetch_quote))
//!     .or_else_named("cache", || async { Ok(41) })
//!     .or_default(0)
//!     .call()
//!     .await
//!     .unwrap();
//! assert_eq!((quote.value, quote.source.as_ref()), (41, "cache"));
//!
//! // The same from configuration.
//! let from_config = Pipeline::from_config("quotes", &ResilienceConfig::default(), clock).unwrap();
//! assert!(from_config.circuit_breaker().is_some());
//! # }
//! ```
//!
//! As a tower layer: `ServiceBuilder::new().layer(ResilienceLayer::new(pipeline)).service(svc)`;
//! see [`ResilienceLayer`].

mod breaker;
mod bulkhead;
mod config;
mod error;
mod fallback;
mod layer;
mod pipeline;
mod rate_limit;
mod retry;
mod timeout;
mod window;

pub use breaker::{
    BreakerEvent, BreakerSnapshot, CircuitBreaker, CircuitBreakerConfig, CircuitState, Outcome,
    Permit, Rejected, TransitionReason,
};
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadPermit};
pub use config::{ConfigError, ResilienceConfig, TimeoutConfig};
pub use error::ResilienceError;
pub use fallback::{Answered, Fallback};
pub use layer::{ResilienceLayer, ResilienceService};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use rate_limit::{RateLimitConfig, RateLimiter};
pub use retry::{Jitter, Retry, RetryBudget, RetryBudgetConfig, RetryConfig};
pub use timeout::Timeout;
