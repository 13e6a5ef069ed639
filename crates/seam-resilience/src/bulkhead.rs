//! A bulkhead: a cap on concurrent calls, so one slow upstream cannot take every task.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ConfigError;
use crate::error::ResilienceError;

/// How a [`Bulkhead`] behaves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadConfig {
    /// Whether a [`Pipeline`](crate::Pipeline) built from config has a bulkhead.
    /// Default `false`: the right limit depends on the upstream.
    pub enabled: bool,
    /// Calls allowed at once. Default 64.
    pub max_concurrent: usize,
    /// How long a call beyond the limit waits for a slot before it is rejected;
    /// zero rejects at once. Default 0.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            max_concurrent: 64,
            max_wait: Duration::ZERO,
        }
    }
}

impl BulkheadConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_concurrent == 0 || self.max_concurrent > Semaphore::MAX_PERMITS {
            return Err(ConfigError::new(
                "max_concurrent",
                format!(
                    "must be between 1 and {}, got {}",
                    Semaphore::MAX_PERMITS,
                    self.max_concurrent
                ),
            ));
        }
        Ok(())
    }
}

/// Caps concurrent calls; a call beyond the cap waits up to `max_wait` for a slot and is
/// then rejected with [`ResilienceError::BulkheadFull`] (kind
/// [`Unavailable`](seam_core::ErrorKind::Unavailable)).
///
/// Waiting uses Tokio's timer. Clones share the same slots.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    name: Arc<str>,
    semaphore: Arc<Semaphore>,
    max_concurrent: usize,
    max_wait: Duration,
}

/// A slot in a [`Bulkhead`], given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct BulkheadPermit {
    _permit: OwnedSemaphorePermit,
}

impl Bulkhead {
    /// A bulkhead as configured; fails if the config is not valid. The `enabled` flag is
    /// not consulted here.
    pub fn new(name: impl Into<Arc<str>>, config: &BulkheadConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            name: name.into(),
            semaphore: Arc::new(Semaphore::new(config.max_concurrent)),
            max_concurrent: config.max_concurrent,
            max_wait: config.max_wait,
        })
    }

    /// The bulkhead's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }

    /// Takes a slot, waiting up to `max_wait`. `E` is the error type of the call the slot
    /// is for, so the rejection fits its result.
    pub async fn acquire<E>(&self) -> Result<BulkheadPermit, ResilienceError<E>> {
        if let Ok(permit) = self.semaphore.clone().try_acquire_owned() {
            return Ok(BulkheadPermit { _permit: permit });
        }
        if !self.max_wait.is_zero() {
            let waiting = self.semaphore.clone().acquire_owned();
            if let Ok(Ok(permit)) = tokio::time::timeout(self.max_wait, waiting).await {
                return Ok(BulkheadPermit { _permit: permit });
            }
        }
        tracing::debug!(bulkhead = %self.name, max_concurrent = self.max_concurrent, "bulkhead full; call rejected");
        metrics::counter!("seam_bulkhead_rejected_total", "bulkhead" => self.name.clone())
            .increment(1);
        Err(ResilienceError::BulkheadFull {
            bulkhead: self.name.clone(),
            max_concurrent: self.max_concurrent,
            waited: self.max_wait,
        })
    }

    /// Runs `call` in a slot.
    pub async fn call<T, E, F, Fut>(&self, call: F) -> Result<T, ResilienceError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _slot = self.acquire().await?;
        call().await.map_err(ResilienceError::Inner)
    }
}
