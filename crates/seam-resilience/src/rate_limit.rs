//! A local rate limiter (GCRA, from `governor`), to stay within an upstream's quota.

use std::fmt;
use std::future::Future;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use governor::Quota;
use governor::clock::{Clock as GovernorClock, ReasonablyRealtime};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use seam_core::SharedClock;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::error::ResilienceError;

/// How a [`RateLimiter`] behaves: `permits` per `period`, with bursts of up to `burst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether a [`Pipeline`](crate::Pipeline) built from config has a rate limiter.
    /// Default `false`: the right quota depends on the upstream.
    pub enabled: bool,
    /// Calls allowed per period, on average. Default 100.
    pub permits: u32,
    /// The period. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub period: Duration,
    /// Calls allowed at once after a quiet spell; default (none) is `permits`.
    pub burst: Option<u32>,
    /// How long a call may wait for its turn; zero rejects at once. Default 0.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            permits: 100,
            period: Duration::from_secs(1),
            burst: None,
            max_wait: Duration::ZERO,
        }
    }
}

impl RateLimitConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.permits == 0 {
            return Err(ConfigError::new("permits", "must be at least 1, got 0"));
        }
        if self.period.is_zero() {
            return Err(ConfigError::new("period", "must be greater than 0"));
        }
        if (self.period / self.permits).is_zero() {
            return Err(ConfigError::new(
                "permits",
                format!(
                    "is too many for a period of {:?} (more than one per nanosecond), got {}",
                    self.period, self.permits
                ),
            ));
        }
        if self.burst == Some(0) {
            return Err(ConfigError::new("burst", "must be at least 1, got 0"));
        }
        Ok(())
    }

    fn quota(&self) -> Option<Quota> {
        let burst = NonZeroU32::new(self.burst.unwrap_or(self.permits))?;
        Some(Quota::with_period(self.period / self.permits)?.allow_burst(burst))
    }
}

/// Drives governor with Seam's clock, so a [`ManualClock`](seam_core::ManualClock) makes
/// the limiter deterministic.
#[derive(Clone)]
struct SeamClock(SharedClock);

impl GovernorClock for SeamClock {
    type Instant = Instant;

    fn now(&self) -> Instant {
        self.0.now()
    }
}

impl ReasonablyRealtime for SeamClock {}

type Governor = governor::RateLimiter<NotKeyed, InMemoryState, SeamClock, NoOpMiddleware<Instant>>;

/// Admits calls at a configured rate (GCRA). A call over the rate waits its turn up to
/// `max_wait` (on the [`Clock`](seam_core::Clock)), or is rejected with
/// [`ResilienceError::RateLimited`] carrying how long until it would be admitted.
///
/// Clones share the same quota.
#[derive(Clone)]
pub struct RateLimiter {
    name: Arc<str>,
    limiter: Arc<Governor>,
    clock: SharedClock,
    max_wait: Duration,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.name)
            .field("max_wait", &self.max_wait)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A rate limiter as configured; fails if the config is not valid. The `enabled`
    /// flag is not consulted here.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: &RateLimitConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let quota = config
            .quota()
            .ok_or_else(|| ConfigError::new("permits", "gives an empty quota"))?;
        Ok(Self {
            name: name.into(),
            limiter: Arc::new(governor::RateLimiter::direct_with_clock(
                quota,
                SeamClock(clock.clone()),
            )),
            clock,
            max_wait: config.max_wait,
        })
    }

    /// The limiter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Admits one call, waiting up to `max_wait`. `E` is the error type of the call, so
    /// the rejection fits its result.
    pub async fn acquire<E>(&self) -> Result<(), ResilienceError<E>> {
        let start = self.clock.now();
        loop {
            let not_until = match self.limiter.check() {
                Ok(()) => return Ok(()),
                Err(not_until) => not_until,
            };
            let now = self.clock.now();
            let wait = not_until.wait_time_from(now);
            let waited = now.saturating_duration_since(start);
            if waited.saturating_add(wait) > self.max_wait {
                tracing::debug!(limiter = %self.name, ?wait, "rate limited; call rejected");
                metrics::counter!("seam_rate_limiter_rejected_total", "limiter" => self.name.clone())
                    .increment(1);
                return Err(ResilienceError::RateLimited {
                    limiter: self.name.clone(),
                    retry_after: Some(wait),
                });
            }
            self.clock.sleep(wait).await;
        }
    }

    /// Runs `call` once the limiter admits it.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.acquire().await?;
        call().await.map_err(ResilienceError::Inner)
    }
}
