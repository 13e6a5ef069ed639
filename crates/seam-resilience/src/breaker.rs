//! A circuit breaker: stops calling an upstream that keeps failing, and probes it until it recovers.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use seam_core::{Classify, ErrorKind, Health, HealthCheck, SharedClock};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::config::ConfigError;
use crate::error::ResilienceError;
use crate::window::SlidingWindow;

/// How a [`CircuitBreaker`] decides to open and to close again; see each field's default.
///
/// The breaker opens when, over the last `window`:
/// - `failure_count_threshold` failures were seen (when set), or
/// - at least `minimum_calls` calls were seen and the failure rate reached
///   `failure_rate_threshold` %, or
/// - at least `minimum_calls` calls were seen and the share of calls slower than
///   `slow_call_duration` reached `slow_call_rate_threshold` %.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Whether a [`Pipeline`](crate::Pipeline) built from config has a breaker. Default `true`.
    pub enabled: bool,
    /// How far back outcomes are counted, in whole seconds. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// Open after this many failures within the window, whatever the traffic (the classic
    /// "5 failures in 60 s"). Default none: a fixed count trips too easily on a busy
    /// upstream, so the rate thresholds are the default.
    pub failure_count_threshold: Option<u32>,
    /// Open when at least this % of the calls in the window failed. Default 50.
    pub failure_rate_threshold: f64,
    /// Calls needed in the window before the rates are trusted. Default 10.
    pub minimum_calls: u32,
    /// A call that takes longer than this is slow. Default 10 s.
    #[serde(with = "humantime_serde")]
    pub slow_call_duration: Duration,
    /// Open when at least this % of the calls in the window were slow. Default 100.
    pub slow_call_rate_threshold: f64,
    /// How long the circuit stays open before letting trial calls through. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
    /// Trial calls let through when half-open; all must succeed to close. Default 3.
    pub half_open_max_calls: u32,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(60),
            failure_count_threshold: None,
            failure_rate_threshold: 50.0,
            minimum_calls: 10,
            slow_call_duration: Duration::from_secs(10),
            slow_call_rate_threshold: 100.0,
            open_duration: Duration::from_secs(30),
            half_open_max_calls: 3,
        }
    }
}

impl CircuitBreakerConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.window < Duration::from_secs(1) {
            return Err(ConfigError::new(
                "window",
                format!("must be at least 1s, got {:?}", self.window),
            ));
        }
        if self.failure_count_threshold == Some(0) {
            return Err(ConfigError::new(
                "failure_count_threshold",
                "must be at least 1, got 0",
            ));
        }
        for (field, value) in [
            ("failure_rate_threshold", self.failure_rate_threshold),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ] {
            if !(value > 0.0 && value <= 100.0) {
                return Err(ConfigError::new(
                    field,
                    format!("must be between 0 and 100, got {value}"),
                ));
            }
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new(
                "minimum_calls",
                "must be at least 1, got 0",
            ));
        }
        if self.slow_call_duration.is_zero() {
            return Err(ConfigError::new(
                "slow_call_duration",
                "must be greater than 0",
            ));
        }
        if self.half_open_max_calls == 0 {
            return Err(ConfigError::new(
                "half_open_max_calls",
                "must be at least 1, got 0",
            ));
        }
        Ok(())
    }
}

/// The state of a circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// Calls flow and outcomes are counted.
    Closed,
    /// Calls are rejected until the open duration has passed.
    Open,
    /// A limited number of trial calls are let through to probe the upstream.
    HalfOpen,
    /// An operator opened the circuit: every call is rejected until released.
    ForcedOpen,
    /// An operator closed the circuit: every call flows, nothing is counted, until released.
    ForcedClosed,
}

impl CircuitState {
    const ALL: [Self; 5] = [
        Self::Closed,
        Self::Open,
        Self::HalfOpen,
        Self::ForcedOpen,
        Self::ForcedClosed,
    ];

    /// A short, stable, lower-case name, for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
            Self::ForcedOpen => "forced_open",
            Self::ForcedClosed => "forced_closed",
        }
    }

    /// The value of the `seam_circuit_breaker_state` gauge: closed 0, open 1, half-open 2,
    /// forced open 3, forced closed 4.
    pub fn gauge_value(&self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::Open => 1.0,
            Self::HalfOpen => 2.0,
            Self::ForcedOpen => 3.0,
            Self::ForcedClosed => 4.0,
        }
    }

    fn code(self) -> u64 {
        self as u64
    }

    fn from_code(code: u64) -> Self {
        Self::ALL[(code & 0xff) as usize]
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransitionReason {
    /// The failure count in the window reached `failure_count_threshold`.
    FailureCount,
    /// The failure rate in the window reached `failure_rate_threshold`.
    FailureRate,
    /// The slow-call rate in the window reached `slow_call_rate_threshold`.
    SlowCallRate,
    /// The open duration passed.
    OpenDurationElapsed,
    /// A trial call failed or was slow.
    TrialFailed,
    /// Every trial call succeeded.
    TrialsSucceeded,
    /// An operator forced the state.
    Forced,
    /// An operator released a forced state, or reset the breaker.
    Reset,
}

impl TransitionReason {
    /// A short, stable, lower-case name, for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FailureCount => "failure_count",
            Self::FailureRate => "failure_rate",
            Self::SlowCallRate => "slow_call_rate",
            Self::OpenDurationElapsed => "open_duration_elapsed",
            Self::TrialFailed => "trial_failed",
            Self::TrialsSucceeded => "trials_succeeded",
            Self::Forced => "forced",
            Self::Reset => "reset",
        }
    }
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change of a breaker, as published to subscribers and listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerEvent {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state left.
    pub from: CircuitState,
    /// The state entered.
    pub to: CircuitState,
    /// Why.
    pub reason: TransitionReason,
    /// When, by the breaker's clock.
    pub at: SystemTime,
}

/// What a call's outcome means to a breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The upstream answered: a success, or an error that is not its fault.
    Success,
    /// The upstream failed (an error whose kind is an upstream failure).
    Failure,
    /// Not counted at all (the call was cancelled, or refused locally before reaching
    /// the upstream). Frees a half-open trial slot.
    Ignored,
}

impl Outcome {
    /// The outcome of an error of this kind.
    ///
    /// Only upstream failures ([`ErrorKind::is_upstream_failure`]) count as failures.
    /// Any other error (`Invalid`, `NotFound`, `Conflict`, ...) counts as a *success*:
    /// the upstream was reached and answered correctly, so it is evidence of health —
    /// and counting it keeps the failure rate honest when many callers send bad requests.
    pub fn from_kind(kind: ErrorKind) -> Self {
        if kind.is_upstream_failure() {
            Self::Failure
        } else {
            Self::Success
        }
    }

    /// The outcome of a call's result; see [`Outcome::from_kind`].
    pub fn of<T, E: Classify>(result: &Result<T, E>) -> Self {
        match result {
            Ok(_) => Self::Success,
            Err(error) => Self::from_kind(error.kind()),
        }
    }
}

/// The breaker refused a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {breaker:?} is {state}, call rejected")]
pub struct Rejected {
    /// The breaker's name.
    pub breaker: Arc<str>,
    /// The state that refused the call (open, half-open with every trial slot taken,
    /// or forced open).
    pub state: CircuitState,
    /// How long until the breaker lets a trial call through, when known.
    pub retry_after: Option<Duration>,
}

impl Classify for Rejected {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Unavailable
    }
}

impl<E> From<Rejected> for ResilienceError<E> {
    fn from(rejected: Rejected) -> Self {
        ResilienceError::CircuitOpen {
            breaker: rejected.breaker,
            retry_after: rejected.retry_after,
        }
    }
}

/// Counts in a breaker's window, and its state, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSnapshot {
    /// The state.
    pub state: CircuitState,
    /// Calls counted in the window.
    pub calls: u64,
    /// Failures counted in the window.
    pub failures: u64,
    /// Slow calls counted in the window.
    pub slow_calls: u64,
}

type Listener = Arc<dyn Fn(&BreakerEvent) + Send + Sync>;

/// A circuit breaker over a time-based sliding window of per-second buckets.
///
/// - **Closed**: calls flow; outcomes are counted. It opens on any threshold of
///   [`CircuitBreakerConfig`].
/// - **Open**: calls are rejected with [`Rejected`] (or
///   [`ResilienceError::CircuitOpen`]) until `open_duration` has passed.
/// - **Half-open**: up to `half_open_max_calls` trial calls are let through; further
///   calls are rejected while they are in flight. If every trial succeeds (and is not
///   slow) the circuit closes with an empty window; if any fails or is slow it opens again.
/// - **Forced open / forced closed**: set by an operator with [`CircuitBreaker::force_open`]
///   and [`CircuitBreaker::force_closed`], left with [`CircuitBreaker::reset`].
///
/// Only upstream failures count as failures (see [`Outcome::from_kind`]). Every state
/// change is logged, published to [`CircuitBreaker::subscribe`] receivers and
/// [`CircuitBreaker::on_transition`] listeners, and reported as metrics:
/// `seam_circuit_breaker_state{breaker}` (see [`CircuitState::gauge_value`]),
/// `seam_circuit_breaker_transitions_total{breaker,from,to}` and
/// `seam_circuit_breaker_rejected_total{breaker}`.
///
/// Clones share the same breaker. All timing goes through the [`Clock`](seam_core::Clock).
///
/// ```
/// use seam_core::{ErrorKind, ManualClock};
/// use seam_resilience::{CircuitBreaker, CircuitBreakerConfig, CircuitState, Outcome};
///
/// let clock = ManualClock::new();
/// let config = CircuitBreakerConfig { failure_count_threshold: Some(2), ..Default::default() };
/// let breaker = CircuitBreaker::new("payments", &config, clock.shared()).unwrap();
/// for _ in 0..2 {
///     let permit = breaker.try_acquire().unwrap();
///     permit.finish(Outcome::from_kind(ErrorKind::Transient));
/// }
/// assert_eq!(breaker.state(), CircuitState::Open);
/// assert!(breaker.try_acquire().is_err());
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    health_name: String,
    settings: Settings,
    clock: SharedClock,
    origin: Instant,
    /// The state code in the low 8 bits and the generation above, so that the closed
    /// fast path needs one atomic load and no lock.
    word: AtomicU64,
    core: Mutex<Core>,
    events: broadcast::Sender<BreakerEvent>,
}

#[derive(Debug, Clone)]
struct Settings {
    failure_count_threshold: Option<u64>,
    failure_rate_threshold: f64,
    minimum_calls: u64,
    slow_call_duration: Duration,
    slow_call_rate_threshold: f64,
    open_duration: Duration,
    half_open_max_calls: u32,
}

struct Core {
    state: CircuitState,
    /// Bumped on every transition; a permit from an earlier generation is not counted.
    generation: u64,
    /// Counters: calls, failures, slow calls.
    window: SlidingWindow<3>,
    opened_at: Instant,
    trials_in_flight: u32,
    trials_succeeded: u32,
    listeners: Vec<Listener>,
}

const EVENT_CAPACITY: usize = 64;

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.state_word().0)
            .field("settings", &self.inner.settings)
            .finish()
    }
}

impl CircuitBreaker {
    /// A breaker named `name` (used in errors, logs, metrics and its health check);
    /// fails if the config is not valid. The `enabled` flag is not consulted here.
    pub fn new(
        name: impl Into<Arc<str>>,
        config: &CircuitBreakerConfig,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let name: Arc<str> = name.into();
        let window_secs = config.window.as_secs_f64().ceil().max(1.0) as usize;
        let origin = clock.now();
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        metrics::gauge!("seam_circuit_breaker_state", "breaker" => name.clone())
            .set(CircuitState::Closed.gauge_value());
        Ok(Self {
            inner: Arc::new(Inner {
                health_name: format!("breaker:{name}"),
                name,
                settings: Settings {
                    failure_count_threshold: config.failure_count_threshold.map(u64::from),
                    failure_rate_threshold: config.failure_rate_threshold,
                    minimum_calls: u64::from(config.minimum_calls),
                    slow_call_duration: config.slow_call_duration,
                    slow_call_rate_threshold: config.slow_call_rate_threshold,
                    open_duration: config.open_duration,
                    half_open_max_calls: config.half_open_max_calls,
                },
                clock,
                origin,
                word: AtomicU64::new(CircuitState::Closed.code()),
                core: Mutex::new(Core {
                    state: CircuitState::Closed,
                    generation: 0,
                    window: SlidingWindow::new(window_secs),
                    opened_at: origin,
                    trials_in_flight: 0,
                    trials_succeeded: 0,
                    listeners: Vec::new(),
                }),
                events,
            }),
        })
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    fn state_word(&self) -> (CircuitState, u64) {
        let word = self.inner.word.load(Ordering::Acquire);
        (CircuitState::from_code(word), word >> 8)
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        // Every update of the core finishes before anything that could panic (listeners
        // run last), so a poisoned lock still guards a consistent state.
        self.inner
            .core
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state. Cheap: one atomic load, plus a lock only when the circuit is
    /// open, to move it to half-open once the open duration has passed.
    pub fn state(&self) -> CircuitState {
        let (state, _) = self.state_word();
        if state != CircuitState::Open {
            return state;
        }
        let now = self.inner.clock.now();
        let mut core = self.lock();
        self.half_open_if_due(&mut core, now);
        core.state
    }

    /// The state and the counts in the window.
    pub fn snapshot(&self) -> BreakerSnapshot {
        let state = self.state();
        let second = self.second(self.inner.clock.now());
        let mut core = self.lock();
        core.window.advance(second);
        let [calls, failures, slow_calls] = core.window.totals();
        BreakerSnapshot {
            state,
            calls,
            failures,
            slow_calls,
        }
    }

    /// A receiver of every state change from now on. A receiver that falls more than 64
    /// events behind loses the oldest ones (and is told so by `recv`).
    pub fn subscribe(&self) -> broadcast::Receiver<BreakerEvent> {
        self.inner.events.subscribe()
    }

    /// Calls `listener` on every state change, in order.
    ///
    /// Listeners run synchronously while the breaker's state is locked, so that they
    /// see changes in the order they happened. They must be quick and must not call
    /// this breaker's methods other than [`CircuitBreaker::name`] (it would deadlock);
    /// to do real work, hand the event to a channel or a task.
    pub fn on_transition(&self, listener: impl Fn(&BreakerEvent) + Send + Sync + 'static) {
        self.lock().listeners.push(Arc::new(listener));
    }

    /// Asks to make a call. On success, run the call and report its outcome with
    /// [`Permit::record`] or [`Permit::finish`]; dropping the permit unrecorded counts
    /// as [`Outcome::Ignored`] (so a cancelled trial frees its half-open slot).
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let (state, generation) = self.state_word();
        match state {
            CircuitState::Closed | CircuitState::ForcedClosed => Ok(Permit {
                breaker: self,
                generation,
                start: self.inner.clock.now(),
                trial: false,
                done: false,
            }),
            CircuitState::ForcedOpen => Err(self.rejected(CircuitState::ForcedOpen, None)),
            CircuitState::Open | CircuitState::HalfOpen => self.try_acquire_slow(),
        }
    }

    fn try_acquire_slow(&self) -> Result<Permit<'_>, Rejected> {
        let now = self.inner.clock.now();
        let mut core = self.lock();
        self.half_open_if_due(&mut core, now);
        match core.state {
            CircuitState::Closed | CircuitState::ForcedClosed => Ok(Permit {
                breaker: self,
                generation: core.generation,
                start: now,
                trial: false,
                done: false,
            }),
            CircuitState::HalfOpen => {
                let taken = core.trials_in_flight + core.trials_succeeded;
                if taken < self.inner.settings.half_open_max_calls {
                    core.trials_in_flight += 1;
                    Ok(Permit {
                        breaker: self,
                        generation: core.generation,
                        start: now,
                        trial: true,
                        done: false,
                    })
                } else {
                    Err(self.rejected(CircuitState::HalfOpen, None))
                }
            }
            CircuitState::Open => {
                let reopen = core.opened_at + self.inner.settings.open_duration;
                let wait = reopen.saturating_duration_since(now);
                Err(self.rejected(CircuitState::Open, Some(wait)))
            }
            CircuitState::ForcedOpen => Err(self.rejected(CircuitState::ForcedOpen, None)),
        }
    }

    fn rejected(&self, state: CircuitState, retry_after: Option<Duration>) -> Rejected {
        metrics::counter!("seam_circuit_breaker_rejected_total", "breaker" => self.inner.name.clone())
            .increment(1);
        tracing::trace!(breaker = %self.inner.name, %state, "circuit breaker rejected a call");
        Rejected {
            breaker: self.inner.name.clone(),
            state,
            retry_after,
        }
    }

    /// Runs `call` if the breaker admits it, and counts its outcome (see
    /// [`Outcome::of`]); a rejection is [`ResilienceError::CircuitOpen`].
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
    {
        let permit = self.try_acquire()?;
        let result = call().await;
        permit.finish(Outcome::of(&result));
        result.map_err(ResilienceError::Inner)
    }

    /// How the pipeline counts an attempt whose error is already a [`ResilienceError`]:
    /// rejections by inner policies (bulkhead, rate limiter) never reached the upstream
    /// and are not counted, while a per-attempt timeout is a failure.
    pub(crate) fn outcome_of<T, E: Classify>(result: &Result<T, ResilienceError<E>>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(ResilienceError::Inner(error)) => Outcome::from_kind(error.kind()),
            Err(ResilienceError::Timeout { .. }) => Outcome::Failure,
            Err(_) => Outcome::Ignored,
        }
    }

    /// Forces the circuit open: every call is rejected until [`CircuitBreaker::reset`].
    pub fn force_open(&self) {
        self.force(CircuitState::ForcedOpen);
    }

    /// Forces the circuit closed: every call flows and nothing is counted until
    /// [`CircuitBreaker::reset`].
    pub fn force_closed(&self) {
        self.force(CircuitState::ForcedClosed);
    }

    fn force(&self, to: CircuitState) {
        let now = self.inner.clock.now();
        let mut core = self.lock();
        if core.state != to {
            self.transition(&mut core, to, TransitionReason::Forced, now);
        }
    }

    /// Returns to normal operation: closed, with an empty window. Releases a forced state.
    pub fn reset(&self) {
        let now = self.inner.clock.now();
        let mut core = self.lock();
        if core.state == CircuitState::Closed {
            core.window.clear();
        } else {
            self.transition(
                &mut core,
                CircuitState::Closed,
                TransitionReason::Reset,
                now,
            );
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.inner.origin).as_secs()
    }

    fn half_open_if_due(&self, core: &mut Core, now: Instant) {
        if core.state == CircuitState::Open
            && now >= core.opened_at + self.inner.settings.open_duration
        {
            self.transition(
                core,
                CircuitState::HalfOpen,
                TransitionReason::OpenDurationElapsed,
                now,
            );
        }
    }

    fn record(
        &self,
        generation: u64,
        trial: bool,
        outcome: Outcome,
        duration: Duration,
        now: Instant,
    ) {
        let (state, current) = self.state_word();
        // Forced states count nothing, and a permit from before the last transition says
        // nothing about the current state: skip the lock for both.
        if current != generation
            || matches!(state, CircuitState::ForcedOpen | CircuitState::ForcedClosed)
        {
            return;
        }
        if outcome == Outcome::Ignored && !trial {
            return;
        }
        let settings = &self.inner.settings;
        let slow = duration > settings.slow_call_duration;
        let mut core = self.lock();
        if core.generation != generation {
            return;
        }
        match core.state {
            CircuitState::Closed => {
                let failed = outcome == Outcome::Failure;
                core.window
                    .add(self.second(now), [1, u32::from(failed), u32::from(slow)]);
                if let Some(reason) = self.trip_reason(&core) {
                    self.transition(&mut core, CircuitState::Open, reason, now);
                }
            }
            CircuitState::HalfOpen if trial => {
                core.trials_in_flight = core.trials_in_flight.saturating_sub(1);
                match outcome {
                    Outcome::Ignored => {}
                    Outcome::Failure => {
                        self.transition(
                            &mut core,
                            CircuitState::Open,
                            TransitionReason::TrialFailed,
                            now,
                        );
                    }
                    Outcome::Success if slow => {
                        self.transition(
                            &mut core,
                            CircuitState::Open,
                            TransitionReason::TrialFailed,
                            now,
                        );
                    }
                    Outcome::Success => {
                        core.trials_succeeded += 1;
                        if core.trials_succeeded >= settings.half_open_max_calls {
                            self.transition(
                                &mut core,
                                CircuitState::Closed,
                                TransitionReason::TrialsSucceeded,
                                now,
                            );
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn release(&self, generation: u64) {
        let mut core = self.lock();
        if core.generation == generation && core.state == CircuitState::HalfOpen {
            core.trials_in_flight = core.trials_in_flight.saturating_sub(1);
        }
    }

    fn trip_reason(&self, core: &Core) -> Option<TransitionReason> {
        let settings = &self.inner.settings;
        let [calls, failures, slow] = core.window.totals();
        if settings
            .failure_count_threshold
            .is_some_and(|threshold| failures >= threshold)
        {
            return Some(TransitionReason::FailureCount);
        }
        if calls < settings.minimum_calls || calls == 0 {
            return None;
        }
        let rate = |count: u64| count as f64 * 100.0 / calls as f64;
        if failures > 0 && rate(failures) >= settings.failure_rate_threshold {
            return Some(TransitionReason::FailureRate);
        }
        if slow > 0 && rate(slow) >= settings.slow_call_rate_threshold {
            return Some(TransitionReason::SlowCallRate);
        }
        None
    }

    fn transition(
        &self,
        core: &mut Core,
        to: CircuitState,
        reason: TransitionReason,
        now: Instant,
    ) {
        let from = core.state;
        core.state = to;
        core.generation += 1;
        core.trials_in_flight = 0;
        core.trials_succeeded = 0;
        match to {
            CircuitState::Open => core.opened_at = now,
            CircuitState::Closed => core.window.clear(),
            _ => {}
        }
        self.inner
            .word
            .store(to.code() | (core.generation << 8), Ordering::Release);

        let name = &self.inner.name;
        match to {
            CircuitState::Open | CircuitState::ForcedOpen => tracing::warn!(
                breaker = %name, %from, %to, %reason, "circuit breaker opened"
            ),
            _ => {
                tracing::info!(breaker = %name, %from, %to, %reason, "circuit breaker changed state")
            }
        }
        metrics::gauge!("seam_circuit_breaker_state", "breaker" => name.clone())
            .set(to.gauge_value());
        metrics::counter!(
            "seam_circuit_breaker_transitions_total",
            "breaker" => name.clone(),
            "from" => from.as_str(),
            "to" => to.as_str(),
        )
        .increment(1);

        let event = BreakerEvent {
            breaker: name.clone(),
            from,
            to,
            reason,
            at: self.inner.clock.system_time(),
        };
        // Sent under the lock so that every subscriber sees transitions in order. An
        // error only means nobody is subscribed.
        let _ = self.inner.events.send(event.clone());
        for listener in &core.listeners {
            listener(&event);
        }
    }
}

/// Leave to make one call through a [`CircuitBreaker`]; report how it went.
///
/// Borrowed from the breaker, so it lives no longer than the call it guards. Dropping
/// it without recording is the same as [`Outcome::Ignored`].
#[must_use = "a permit should be recorded with the call's outcome"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    start: Instant,
    trial: bool,
    done: bool,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.breaker.inner.name)
            .field("trial", &self.trial)
            .finish()
    }
}

impl Permit<'_> {
    /// Whether this permit is a half-open trial.
    pub fn is_trial(&self) -> bool {
        self.trial
    }

    /// Reports the call's outcome and how long it took (for slow-call detection).
    pub fn record(self, outcome: Outcome, duration: Duration) {
        let now = self.breaker.inner.clock.now();
        self.record_at(outcome, duration, now);
    }

    /// Reports the call's outcome, timing it from when the permit was granted (or from
    /// the last [`Permit::restart_timer`]).
    pub fn finish(self, outcome: Outcome) {
        let now = self.breaker.inner.clock.now();
        let duration = now.saturating_duration_since(self.start);
        self.record_at(outcome, duration, now);
    }

    /// Starts timing the call from now, so that time spent queueing for a bulkhead or
    /// rate limiter after the permit was granted does not make the call look slow.
    pub fn restart_timer(&mut self) {
        self.start = self.breaker.inner.clock.now();
    }

    fn record_at(mut self, outcome: Outcome, duration: Duration, now: Instant) {
        self.done = true;
        self.breaker
            .record(self.generation, self.trial, outcome, duration, now);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.done && self.trial {
            self.breaker.release(self.generation);
        }
    }
}

#[async_trait]
impl HealthCheck for CircuitBreaker {
    fn name(&self) -> &str {
        &self.inner.health_name
    }

    /// Closed and forced closed are up, half-open is degraded, open and forced open are down.
    async fn check(&self) -> Health {
        match self.state() {
            CircuitState::Closed | CircuitState::ForcedClosed => Health::up(),
            CircuitState::HalfOpen => Health::degraded(format!(
                "circuit half-open: probing with up to {} trial calls",
                self.inner.settings.half_open_max_calls
            )),
            CircuitState::Open => {
                let now = self.inner.clock.now();
                let reopen = self.lock().opened_at + self.inner.settings.open_duration;
                Health::down(format!(
                    "circuit open: calls rejected, next trial in {:?}",
                    reopen.saturating_duration_since(now)
                ))
            }
            CircuitState::ForcedOpen => {
                Health::down("circuit forced open by an operator: calls rejected")
            }
        }
    }
}
