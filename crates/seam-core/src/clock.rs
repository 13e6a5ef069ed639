//! Time as a dependency, so that time-driven behaviour is testable without sleeping.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// A source of time, monotonic and wall-clock, and a way to wait.
///
/// Everything in Seam that reads the time or waits (backoff, circuit-breaker windows,
/// token expiry, health-check intervals) takes a `Clock`, so that tests can drive it
/// with a [`ManualClock`] and never sleep for real.
pub trait Clock: Debug + Send + Sync + 'static {
    /// Monotonic time, for measuring durations and deadlines.
    fn now(&self) -> Instant;

    /// Wall-clock time, for timestamps that leave the process.
    fn system_time(&self) -> SystemTime;

    /// Completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// A clock shared between components.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: [`Instant::now`], [`SystemTime::now`] and `tokio::time::sleep`.
///
/// `sleep` needs a Tokio runtime (with the time driver enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn system_time(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock that moves only when told to, for deterministic tests.
///
/// [`Clock::sleep`] on a manual clock does not wait: it advances the clock by the
/// requested duration at once and records the request, so code that backs off can be
/// tested instantly and the waits it asked for can be inspected with [`ManualClock::sleeps`].
///
/// Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    base_instant: Instant,
    base_system: SystemTime,
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A manual clock starting now, at the current wall-clock time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A manual clock whose wall-clock time starts at `system_time`.
    pub fn starting_at(system_time: SystemTime) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ManualState {
                base_instant: Instant::now(),
                base_system: system_time,
                elapsed: Duration::ZERO,
                sleeps: Vec::new(),
            })),
        }
    }

    /// This clock as a [`SharedClock`] (sharing its time with `self`).
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.state().elapsed += by;
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        self.state().elapsed
    }

    /// Every duration passed to [`Clock::sleep`], in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state().sleeps.clone()
    }

    fn state(&self) -> MutexGuard<'_, ManualState> {
        // A panic while holding this lock cannot leave the state half-written
        // (every update is a single assignment), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let state = self.state();
        state.base_instant + state.elapsed
    }

    fn system_time(&self) -> SystemTime {
        let state = self.state();
        state.base_system + state.elapsed
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        {
            let mut state = self.state();
            state.elapsed += duration;
            state.sleeps.push(duration);
        }
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH);
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.now() - start, Duration::from_secs(5));
        assert_eq!(
            clock.system_time(),
            SystemTime::UNIX_EPOCH + Duration::from_secs(5)
        );
    }

    #[tokio::test]
    async fn manual_sleep_advances_and_records() {
        let clock = ManualClock::new();
        let shared = clock.shared();
        let start = shared.now();
        shared.sleep(Duration::from_millis(250)).await;
        shared.sleep(Duration::from_secs(1)).await;
        assert_eq!(shared.now() - start, Duration::from_millis(1250));
        assert_eq!(
            clock.sleeps(),
            vec![Duration::from_millis(250), Duration::from_secs(1)]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn system_clock_sleeps_on_tokio_time() {
        let before = tokio::time::Instant::now();
        SystemClock.sleep(Duration::from_secs(10)).await;
        assert!(tokio::time::Instant::now() - before >= Duration::from_secs(10));
    }
}
