//! Retry and circuit breaker around any payment service.
//!
//! [`ResilientPayments`] wraps an `Arc<dyn PaymentService>` in a
//! [`seam_resilience::Pipeline`] and implements the same trait, so callers do not know
//! it is there. Two properties make this safe for money:
//!
//! - Every mutating call carries its [`IdempotencyKey`], and a retry sends the *same*
//!   request with the *same* key: a create that timed out and is retried answers the
//!   first payment instead of charging twice.
//! - Only retryable kinds are retried (`Transient`, `RateLimited` after its wait,
//!   `Timeout`, `Unavailable`); a decline, a conflict or an invalid request is answered
//!   at once. A rejection by the open circuit is never retried.
//!
//! [`ResilientPayments::classic`] configures the breaker like the classic guide: open
//! after 5 failures within 60 s, half-open after 30 s, 3 trial calls that must all
//! succeed to close. While open, every call fails fast with [`Error::Unavailable`]
//! carrying the time until the next trial ([`Error::retry_after`]), which an API answers
//! as `503` with `Retry-After`. Declines and other caller mistakes never count as
//! failures. The breaker is exposed ([`ResilientPayments::breaker`]) to register as the
//! `breaker:payments` health check and to subscribe to its open/close events for alerts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use seam_core::SharedClock;
use seam_domain::Money;
use seam_resilience::{
    CircuitBreaker, CircuitBreakerConfig, ConfigError, Pipeline, ResilienceConfig, ResilienceError,
    RetryConfig,
};

use crate::error::{Error, Result};
use crate::types::{CreatePayment, CreateRefund, IdempotencyKey, Payment, PaymentId, Refund};
use crate::{DynPaymentService, PaymentService};

/// The name of the breaker and the retry policy: health check `breaker:payments`,
/// metric label `breaker="payments"`.
pub const BREAKER_NAME: &str = "payments";

/// The classic breaker: open after 5 failures in 60 s, half-open after 30 s, 3 trials.
pub fn classic_breaker_config() -> CircuitBreakerConfig {
    CircuitBreakerConfig {
        window: Duration::from_secs(60),
        failure_count_threshold: Some(5),
        open_duration: Duration::from_secs(30),
        half_open_max_calls: 3,
        ..CircuitBreakerConfig::default()
    }
}

/// The retry used by [`ResilientPayments::classic`]: 3 attempts, 200 ms to 2 s backoff
/// with full jitter, within 10 s.
pub fn classic_retry_config() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        base_delay: Duration::from_millis(200),
        max_delay: Duration::from_secs(2),
        max_elapsed: Duration::from_secs(10),
        ..RetryConfig::default()
    }
}

/// The whole classic configuration: [`classic_retry_config`], [`classic_breaker_config`],
/// a 30 s limit on a whole call (retries included), no bulkhead or rate limit.
pub fn classic_config() -> ResilienceConfig {
    ResilienceConfig {
        retry: classic_retry_config(),
        circuit_breaker: classic_breaker_config(),
        ..ResilienceConfig::default()
    }
}

/// A [`PaymentService`] whose calls go through a resilience [`Pipeline`]; see the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct ResilientPayments {
    inner: Arc<DynPaymentService>,
    pipeline: Pipeline,
}

impl ResilientPayments {
    /// Wraps `inner` in `pipeline` (built from config, for example
    /// `Pipeline::from_config("payments", ..)`).
    pub fn new(inner: Arc<DynPaymentService>, pipeline: Pipeline) -> Self {
        Self { inner, pipeline }
    }

    /// Wraps `inner` in the policies `config` describes (the `[payments.resilience]`
    /// section of a config file), named [`BREAKER_NAME`].
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first field out of range.
    pub fn from_config(
        inner: Arc<DynPaymentService>,
        config: &ResilienceConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        Ok(Self::new(
            inner,
            Pipeline::from_config(BREAKER_NAME, config, clock)?,
        ))
    }

    /// Wraps `inner` in [`classic_config`]: the classic retry and breaker, and a 30 s
    /// limit on a whole call, retries included.
    ///
    /// # Errors
    ///
    /// Never with the built-in config; the `Result` is that of [`Self::from_config`].
    pub fn classic(inner: Arc<DynPaymentService>, clock: SharedClock) -> Result<Self, ConfigError> {
        Self::from_config(inner, &classic_config(), clock)
    }

    /// The circuit breaker, if the pipeline has one: a health check named
    /// `breaker:payments`, and [`CircuitBreaker::subscribe`] for open/close events.
    pub fn breaker(&self) -> Option<&CircuitBreaker> {
        self.pipeline.circuit_breaker()
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The wrapped service.
    pub fn inner(&self) -> &Arc<DynPaymentService> {
        &self.inner
    }
}

/// The port's error for a failed pipeline call: the call's own error, or the policy's
/// rejection in the port's terms.
fn from_resilience(error: ResilienceError<Error>) -> Error {
    error.into_inner_or_else(|rejection| match rejection {
        ResilienceError::CircuitOpen {
            breaker,
            retry_after,
        } => Error::Unavailable {
            message: format!("circuit breaker {breaker} is open"),
            retry_after,
        },
        ResilienceError::Timeout { after } => {
            Error::Timeout(format!("no answer within {after:?}, retries included"))
        }
        ResilienceError::BulkheadFull { bulkhead, .. } => Error::Unavailable {
            message: format!("bulkhead {bulkhead} is full"),
            retry_after: None,
        },
        ResilienceError::RateLimited { retry_after, .. } => Error::RateLimited { retry_after },
        other => Error::Unavailable {
            message: other.to_string(),
            retry_after: None,
        },
    })
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl PaymentService for ResilientPayments {
    async fn create(&self, request: &CreatePayment) -> Result<Payment> {
        self.pipeline
            .call(|| self.inner.create(request))
            .await
            .map_err(from_resilience)
    }

    async fn get(&self, id: &PaymentId) -> Result<Payment> {
        self.pipeline
            .call(|| self.inner.get(id))
            .await
            .map_err(from_resilience)
    }

    async fn confirm(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        self.pipeline
            .call(|| self.inner.confirm(id, idempotency_key))
            .await
            .map_err(from_resilience)
    }

    async fn capture(
        &self,
        id: &PaymentId,
        amount: Option<Money>,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Payment> {
        self.pipeline
            .call(|| self.inner.capture(id, amount, idempotency_key))
            .await
            .map_err(from_resilience)
    }

    async fn cancel(&self, id: &PaymentId, idempotency_key: &IdempotencyKey) -> Result<Payment> {
        self.pipeline
            .call(|| self.inner.cancel(id, idempotency_key))
            .await
            .map_err(from_resilience)
    }

    async fn refund(&self, request: &CreateRefund) -> Result<Refund> {
        self.pipeline
            .call(|| self.inner.refund(request))
            .await
            .map_err(from_resilience)
    }

    async fn list_refunds(&self, id: &PaymentId) -> Result<Vec<Refund>> {
        self.pipeline
            .call(|| self.inner.list_refunds(id))
            .await
            .map_err(from_resilience)
    }
}
