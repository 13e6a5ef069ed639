//! The policies composed in Seam's one order, over any async call.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use seam_core::{Classify, SharedClock};

use crate::breaker::CircuitBreaker;
use crate::bulkhead::Bulkhead;
use crate::config::{ConfigError, ResilienceConfig};
use crate::error::ResilienceError;
use crate::rate_limit::RateLimiter;
use crate::retry::Retry;
use crate::timeout::Timeout;

/// The configured policies, applied outermost first:
///
/// 1. **timeout** on the whole call, retries and backoff included;
/// 2. **retry** with backoff, jitter and budget;
/// 3. **circuit breaker**, consulted on every attempt;
/// 4. **rate limiter**, then **bulkhead**;
/// 5. **per-attempt timeout**, around the call alone.
///
/// A [`Fallback`](crate::Fallback) chain goes around the pipeline (its primary is a
/// `pipeline.call(..)`), because the value to fall back to depends on the call.
///
/// Decisions made where policies meet:
/// - A rejection by an open circuit is not retried: failing fast is the breaker's job,
///   and retrying it would only burn the retry budget.
/// - Rejections by the rate limiter and the bulkhead are local and never reached the
///   upstream, so the breaker does not count them; they are retried like any
///   `Unavailable` / `RateLimited` error (the limiter's `retry_after` is honoured).
/// - A per-attempt timeout counts as a breaker failure and is retried.
/// - Time spent waiting for the rate limiter or the bulkhead does not count towards the
///   breaker's slow-call detection.
///
/// Clones share the same policies (and so the same breaker state, budget and slots).
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    timeout: Option<Timeout>,
    retry: Option<Retry>,
    breaker: Option<CircuitBreaker>,
    rate_limiter: Option<RateLimiter>,
    bulkhead: Option<Bulkhead>,
    attempt_timeout: Option<Timeout>,
}

/// Builds a [`Pipeline`]; every policy is optional.
#[derive(Debug, Default)]
#[must_use = "call build() to get the pipeline"]
pub struct PipelineBuilder {
    pipeline: Pipeline,
}

impl PipelineBuilder {
    /// A limit on the whole call, retries included.
    pub fn timeout(mut self, total: Duration) -> Self {
        self.pipeline.timeout = Some(Timeout::new(total));
        self
    }

    /// A limit on each attempt.
    pub fn attempt_timeout(mut self, per_attempt: Duration) -> Self {
        self.pipeline.attempt_timeout = Some(Timeout::new(per_attempt));
        self
    }

    /// Retries failed attempts.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.pipeline.retry = Some(retry);
        self
    }

    /// Guards every attempt with a circuit breaker (a clone shares its state).
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.pipeline.breaker = Some(breaker);
        self
    }

    /// Rate-limits every attempt.
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.pipeline.rate_limiter = Some(limiter);
        self
    }

    /// Caps concurrent attempts.
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.pipeline.bulkhead = Some(bulkhead);
        self
    }

    /// The pipeline.
    pub fn build(self) -> Pipeline {
        self.pipeline
    }
}

impl Pipeline {
    /// A builder with no policy configured.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// The pipeline described by `config`, its policies named `name` (for example the
    /// upstream, `"payments"`); fails if the config is not valid.
    pub fn from_config(
        name: &str,
        config: &ResilienceConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let name: Arc<str> = Arc::from(name);
        let mut builder = Self::builder();
        if config.timeout.enabled {
            builder = builder.timeout(config.timeout.total);
        }
        if let Some(per_attempt) = config.timeout.per_attempt {
            builder = builder.attempt_timeout(per_attempt);
        }
        if config.retry.enabled {
            builder = builder.retry(Retry::from_config(
                name.clone(),
                &config.retry,
                clock.clone(),
            )?);
        }
        if config.circuit_breaker.enabled {
            builder = builder.circuit_breaker(CircuitBreaker::new(
                name.clone(),
                &config.circuit_breaker,
                clock.clone(),
            )?);
        }
        if config.rate_limit.enabled {
            builder =
                builder.rate_limiter(RateLimiter::new(name.clone(), &config.rate_limit, clock)?);
        }
        if config.bulkhead.enabled {
            builder = builder.bulkhead(Bulkhead::new(name, &config.bulkhead)?);
        }
        Ok(builder.build())
    }

    /// The circuit breaker, if any: register it as a health check, subscribe to its events.
    pub fn circuit_breaker(&self) -> Option<&CircuitBreaker> {
        self.breaker.as_ref()
    }

    /// The retry policy, if any.
    pub fn retry(&self) -> Option<&Retry> {
        self.retry.as_ref()
    }

    /// The bulkhead, if any.
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.bulkhead.as_ref()
    }

    /// The rate limiter, if any.
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.rate_limiter.as_ref()
    }

    /// Runs `call` through every configured policy. `call` is invoked once per attempt.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let retried = async {
            match &self.retry {
                Some(retry) => {
                    retry
                        .run(
                            || self.attempt(&call),
                            |error: &ResilienceError<E>| {
                                !matches!(error, ResilienceError::CircuitOpen { .. })
                                    && error.kind().is_retryable()
                            },
                        )
                        .await
                }
                None => self.attempt(&call).await,
            }
        };
        match &self.timeout {
            Some(timeout) => timeout.run(retried).await,
            None => retried.await,
        }
    }

    async fn attempt<T, E, F, Fut>(&self, call: &F) -> Result<T, ResilienceError<E>>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let mut permit = match &self.breaker {
            Some(breaker) => Some(breaker.try_acquire()?),
            None => None,
        };
        // A rejection below drops the breaker permit unrecorded, which is what a call
        // that never reached the upstream should do.
        if let Some(limiter) = &self.rate_limiter {
            limiter.acquire().await?;
        }
        let _slot = match &self.bulkhead {
            Some(bulkhead) => Some(bulkhead.acquire().await?),
            None => None,
        };
        if let Some(permit) = permit.as_mut()
            && (self.rate_limiter.is_some() || self.bulkhead.is_some())
        {
            permit.restart_timer();
        }
        let result = match &self.attempt_timeout {
            Some(timeout) => {
                timeout
                    .run(async { call().await.map_err(ResilienceError::Inner) })
                    .await
            }
            None => call().await.map_err(ResilienceError::Inner),
        };
        if let Some(permit) = permit {
            permit.finish(CircuitBreaker::outcome_of(&result));
        }
        result
    }
}
