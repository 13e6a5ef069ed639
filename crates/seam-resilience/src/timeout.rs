//! A time limit on a call.

use std::future::Future;
use std::time::Duration;

use crate::error::ResilienceError;

/// Abandons a call that does not finish in time, with [`ResilienceError::Timeout`]
/// (kind [`Timeout`](seam_core::ErrorKind::Timeout)).
///
/// The call's future is dropped at the deadline, so it must be cancel-safe; whether the
/// upstream acted on it is unknown. It uses Tokio's timer (not the [`Clock`](seam_core::Clock)),
/// because only the runtime can interrupt a pending future; tests use
/// `#[tokio::test(start_paused = true)]`, which never sleeps for real.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    duration: Duration,
}

impl Timeout {
    /// A limit of `duration`.
    pub fn new(duration: Duration) -> Self {
        Self { duration }
    }

    /// The limit.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `call` within the limit.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.run(async { call().await.map_err(ResilienceError::Inner) })
            .await
    }

    /// Runs a future whose error already is a [`ResilienceError`] within the limit.
    pub(crate) async fn run<T, E>(
        &self,
        future: impl Future<Output = Result<T, ResilienceError<E>>>,
    ) -> Result<T, ResilienceError<E>> {
        match tokio::time::timeout(self.duration, future).await {
            Ok(result) => result,
            Err(_) => {
                tracing::debug!(after = ?self.duration, "call timed out");
                Err(ResilienceError::Timeout {
                    after: self.duration,
                })
            }
        }
    }
}
