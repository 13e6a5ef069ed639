//! Retry with exponential backoff, full jitter, a time limit and a retry budget.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use seam_core::{Classify, SharedClock};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::window::SlidingWindow;

/// How a [`Retry`] behaves; see each field for its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Whether a [`Pipeline`](crate::Pipeline) built from config retries. Default `true`.
    pub enabled: bool,
    /// Attempts in all, the first one included; 1 means never retry. Default 3.
    pub max_attempts: u32,
    /// The backoff before the first retry, before jitter. Default 100 ms.
    #[serde(with = "humantime_serde")]
    pub base_delay: Duration,
    /// The cap on a single backoff, before jitter. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// No retry is started if it could not begin within this time of the first attempt.
    /// Default 30 s.
    #[serde(with = "humantime_serde")]
    pub max_elapsed: Duration,
    /// The retry budget. Enabled by default.
    pub budget: RetryBudgetConfig,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_elapsed: Duration::from_secs(30),
            budget: RetryBudgetConfig::default(),
        }
    }
}

impl RetryConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_attempts == 0 {
            return Err(ConfigError::new(
                "max_attempts",
                format!("must be at least 1, got {}", self.max_attempts),
            ));
        }
        if self.max_delay < self.base_delay {
            return Err(ConfigError::new(
                "max_delay",
                format!(
                    "must not be less than base_delay ({:?}), got {:?}",
                    self.base_delay, self.max_delay
                ),
            ));
        }
        if self.budget.enabled {
            self.budget.validate().map_err(|e| e.within("budget"))?;
        }
        Ok(())
    }
}

/// How much retrying a [`RetryBudget`] allows.
///
/// Over any `window`, retries may be at most `retry_ratio` of the calls made plus
/// `min_retries_per_second` for each second of the window, as in Finagle's and tower's
/// budgets: a struggling upstream sees at most `1 + retry_ratio` times its normal load,
/// yet a quiet client can still retry its occasional failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// Whether retries are limited by a budget. Default `true`.
    pub enabled: bool,
    /// How far back calls and retries are counted, in whole seconds. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Retries allowed per call made, between 0 and 1000. Default 0.2.
    pub retry_ratio: f64,
    /// Retries always allowed per second, whatever the traffic. Default 10.
    pub min_retries_per_second: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(10),
            retry_ratio: 0.2,
            min_retries_per_second: 10,
        }
    }
}

impl RetryBudgetConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window < Duration::from_secs(1) {
            return Err(ConfigError::new(
                "window",
                format!("must be at least 1s, got {:?}", self.window),
            ));
        }
        if !(0.0..=1000.0).contains(&self.retry_ratio) {
            return Err(ConfigError::new(
                "retry_ratio",
                format!("must be between 0 and 1000, got {}", self.retry_ratio),
            ));
        }
        Ok(())
    }
}

/// A limit on retries shared by every call that uses it, so that a failing upstream
/// is not hammered by retries on top of its normal load.
///
/// Clones share the same budget; share one per upstream across all the [`Retry`]
/// policies that call it.
#[derive(Clone)]
pub struct RetryBudget {
    state: Arc<Mutex<BudgetState>>,
    clock: SharedClock,
    origin: Instant,
    retry_ratio: f64,
    reserve: f64,
}

#[derive(Debug)]
struct BudgetState {
    /// Counters: calls, retries.
    window: SlidingWindow<2>,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (calls, retries) = self.counts();
        f.debug_struct("RetryBudget")
            .field("retry_ratio", &self.retry_ratio)
            .field("reserve", &self.reserve)
            .field("calls", &calls)
            .field("retries", &retries)
            .finish()
    }
}

impl RetryBudget {
    /// A budget as configured; the config must be valid.
    pub fn new(config: &RetryBudgetConfig, clock: SharedClock) -> Result<Self, ConfigError> {
        config.validate()?;
        let window_secs = config.window.as_secs_f64().ceil().max(1.0);
        Ok(Self {
            state: Arc::new(Mutex::new(BudgetState {
                window: SlidingWindow::new(window_secs as usize),
            })),
            origin: clock.now(),
            clock,
            retry_ratio: config.retry_ratio,
            reserve: f64::from(config.min_retries_per_second) * window_secs,
        })
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        // The window is updated by plain arithmetic that cannot panic half-way.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that a call was made (its first attempt), which earns retry credit.
    pub fn deposit(&self) {
        self.deposit_at(self.clock.now());
    }

    fn deposit_at(&self, now: Instant) {
        let second = self.second(now);
        self.lock().window.add(second, [1, 0]);
    }

    /// Takes one retry from the budget; `false` (and nothing taken) if it is exhausted.
    pub fn try_withdraw(&self) -> bool {
        let second = self.second(self.clock.now());
        let mut state = self.lock();
        state.window.advance(second);
        let [calls, retries] = state.window.totals();
        let allowed = self.reserve + self.retry_ratio * calls as f64;
        if (retries + 1) as f64 <= allowed {
            state.window.add(second, [0, 1]);
            true
        } else {
            false
        }
    }

    /// Calls and retries counted in the current window.
    pub fn counts(&self) -> (u64, u64) {
        let second = self.second(self.clock.now());
        let mut state = self.lock();
        state.window.advance(second);
        let [calls, retries] = state.window.totals();
        (calls, retries)
    }
}

/// How a backoff is randomised.
///
/// The default is AWS's "full jitter": the wait is uniform in `[0, backoff]`, which
/// spreads retries of many clients that failed together better than any fixed delay.
#[derive(Clone, Default)]
pub struct Jitter(JitterKind);

#[derive(Clone, Default)]
enum JitterKind {
    #[default]
    Full,
    Seeded(Arc<Mutex<StdRng>>),
    Custom(Arc<dyn Fn(Duration) -> Duration + Send + Sync>),
    None,
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            JitterKind::Full => "Jitter::Full",
            JitterKind::Seeded(_) => "Jitter::Seeded",
            JitterKind::Custom(_) => "Jitter::Custom",
            JitterKind::None => "Jitter::None",
        })
    }
}

impl Jitter {
    /// Full jitter from the thread-local random generator.
    pub fn full() -> Self {
        Self(JitterKind::Full)
    }

    /// Full jitter from a generator seeded with `seed`: the same seed gives the same waits.
    pub fn full_seeded(seed: u64) -> Self {
        Self(JitterKind::Seeded(Arc::new(Mutex::new(
            StdRng::seed_from_u64(seed),
        ))))
    }

    /// No jitter: wait exactly the exponential backoff.
    pub fn none() -> Self {
        Self(JitterKind::None)
    }

    /// A custom function from the backoff to the wait; results above the backoff are
    /// capped to it.
    pub fn custom(f: impl Fn(Duration) -> Duration + Send + Sync + 'static) -> Self {
        Self(JitterKind::Custom(Arc::new(f)))
    }

    /// The wait for a backoff of `cap`, within `[0, cap]`.
    pub fn apply(&self, cap: Duration) -> Duration {
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        match &self.0 {
            JitterKind::Full => Duration::from_nanos(rand::rng().random_range(0..=nanos)),
            JitterKind::Seeded(rng) => Duration::from_nanos(
                rng.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .random_range(0..=nanos),
            ),
            JitterKind::Custom(f) => f(cap).min(cap),
            JitterKind::None => cap,
        }
    }
}

/// Retries a failed call while its error is retryable, with exponential backoff and
/// full jitter, within a number of attempts, a time limit and a [`RetryBudget`].
///
/// - Only errors whose [`ErrorKind::is_retryable`](seam_core::ErrorKind::is_retryable)
///   is true are retried; anything else is returned at once.
/// - The wait before retry `n` (0-based) is `jitter(min(max_delay, base_delay * 2^n))`.
/// - A `RateLimited { retry_after }` error is waited out: the wait is at least
///   `retry_after`. If the wait would end after `max_elapsed`, the error is returned
///   instead: waiting only to give up helps nobody.
/// - When the budget is exhausted, the error is returned without retrying.
///
/// Waits go through the [`Clock`](seam_core::Clock), so a test with a
/// [`ManualClock`](seam_core::ManualClock) never sleeps.
#[derive(Clone, Debug)]
pub struct Retry {
    name: Arc<str>,
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    max_elapsed: Option<Duration>,
    budget: Option<RetryBudget>,
    jitter: Jitter,
    clock: SharedClock,
}

impl Retry {
    /// A retry policy with the default [`RetryConfig`] (including its budget).
    pub fn new(name: impl Into<Arc<str>>, clock: SharedClock) -> Self {
        match Self::from_config(name, &RetryConfig::default(), clock) {
            Ok(retry) => retry,
            Err(e) => unreachable!("the default retry config is valid: {e}"),
        }
    }

    /// A retry policy as configured; fails if the config is not valid.
    pub fn from_config(
        name: impl Into<Arc<str>>,
        config: &RetryConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let budget = if config.budget.enabled {
            Some(RetryBudget::new(&config.budget, clock.clone())?)
        } else {
            None
        };
        Ok(Self {
            name: name.into(),
            max_attempts: config.max_attempts,
            base_delay: config.base_delay,
            max_delay: config.max_delay,
            max_elapsed: Some(config.max_elapsed),
            budget,
            jitter: Jitter::default(),
            clock,
        })
    }

    /// Sets the number of attempts in all (at least 1).
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Sets the backoff before the first retry and the cap on any one backoff.
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay.max(base_delay);
        self
    }

    /// Sets the time limit on retrying, or `None` for no limit.
    pub fn with_max_elapsed(mut self, max_elapsed: Option<Duration>) -> Self {
        self.max_elapsed = max_elapsed;
        self
    }

    /// Uses `budget` (possibly shared with other policies), or none at all.
    pub fn with_budget(mut self, budget: Option<RetryBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Sets how backoffs are randomised; tests use [`Jitter::full_seeded`] or [`Jitter::none`].
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The policy's name, as used in logs and metrics.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The budget in use, if any.
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// The backoff before retry `retry` (0-based), before jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// Runs `call`, retrying it as this policy allows; returns the last error on failure.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        self.run(call, |error: &E| error.is_retryable()).await
    }

    /// The retry loop, with the decision of what to retry left to the caller so that the
    /// pipeline can refuse to retry a rejection by an open circuit.
    pub(crate) async fn run<T, E, F, Fut, R>(&self, call: F, retryable: R) -> Result<T, E>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
        R: Fn(&E) -> bool,
    {
        // One clock read serves both the budget's bucket and the elapsed-time limit.
        let start = self.clock.now();
        if let Some(budget) = &self.budget {
            budget.deposit_at(start);
        }
        let mut attempts = 0u32;
        loop {
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            attempts += 1;
            if !retryable(&error) {
                return Err(error);
            }
            if attempts >= self.max_attempts {
                tracing::debug!(retry = %self.name, attempts, kind = %error.kind(), "retry: attempts exhausted");
                return Err(error);
            }
            let retry_after = error.kind().retry_after();
            let mut delay = self.jitter.apply(self.backoff(attempts - 1));
            if let Some(after) = retry_after {
                delay = delay.max(after);
            }
            if let Some(max_elapsed) = self.max_elapsed {
                let elapsed = self.clock.now().saturating_duration_since(start);
                if elapsed.saturating_add(delay) > max_elapsed {
                    tracing::debug!(
                        retry = %self.name, attempts, ?delay, ?elapsed, ?max_elapsed,
                        "retry: next attempt would start after max_elapsed; giving up"
                    );
                    return Err(error);
                }
            }
            if let Some(budget) = &self.budget
                && !budget.try_withdraw()
            {
                tracing::warn!(retry = %self.name, attempts, kind = %error.kind(), "retry: budget exhausted; not retrying");
                metrics::counter!("seam_retry_budget_exhausted_total", "retry" => self.name.clone())
                    .increment(1);
                return Err(error);
            }
            tracing::debug!(retry = %self.name, attempt = attempts + 1, ?delay, kind = %error.kind(), "retry: backing off");
            metrics::counter!("seam_retry_retries_total", "retry" => self.name.clone())
                .increment(1);
            self.clock.sleep(delay).await;
        }
    }
}
