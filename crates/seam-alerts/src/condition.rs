//! Alerting on a condition that is checked over and over: a dead-letter queue above
//! its limit, a dependency down in `/health` for longer than allowed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use seam_core::SharedClock;
use serde_json::Value;

use crate::error::Result;
use crate::{Alert, AlertService};

/// What a [`ConditionAlert::check`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionChange {
    /// The condition had held long enough: the alert was triggered.
    Triggered,
    /// The condition cleared: the alert was resolved.
    Resolved,
    /// Nothing sent: the condition is clear, or not held long enough yet, or already
    /// alerted.
    Unchanged,
}

#[derive(Debug, Default)]
struct State {
    /// When the condition was first seen active, in the current streak.
    active_since: Option<Instant>,
    /// Whether the alert is raised (triggered and not resolved since).
    raised: bool,
}

/// Turns a condition checked periodically into one alert per occurrence.
///
/// Feed it the condition's value at each check: once it has been active for the
/// grace period (`after`, default zero), the alert is triggered once; when it clears,
/// the alert is resolved once. A failed trigger or resolve is tried again at the next
/// check, so a flaky pager does not lose the page or leave it open. Time comes from the
/// clock, so tests use a [`ManualClock`](seam_core::ManualClock).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// use seam_alerts::condition::{ConditionAlert, ConditionChange};
/// use seam_alerts::{Alert, InMemoryAlerts, Severity};
/// use seam_core::ManualClock;
///
/// let alerts = Arc::new(InMemoryAlerts::new());
/// let clock = ManualClock::new();
/// let postgres_down = ConditionAlert::new(
///     alerts.clone(),
///     Alert::new("health:postgres", Severity::Critical, "postgres is down", "seam-api"),
///     clock.shared(),
/// )
/// .after(Duration::from_secs(60));
/// assert_eq!(postgres_down.check(true).await.unwrap(), ConditionChange::Unchanged);
/// clock.advance(Duration::from_secs(60));
/// assert_eq!(postgres_down.check(true).await.unwrap(), ConditionChange::Triggered);
/// assert_eq!(postgres_down.check(true).await.unwrap(), ConditionChange::Unchanged);
/// assert_eq!(postgres_down.check(false).await.unwrap(), ConditionChange::Resolved);
/// # });
/// ```
#[derive(Debug)]
pub struct ConditionAlert {
    alerts: Arc<dyn AlertService>,
    alert: Alert,
    after: Duration,
    clock: SharedClock,
    state: Mutex<State>,
}

impl ConditionAlert {
    /// Alerts with `alert` (its dedup key names the condition) through `alerts`.
    pub fn new(alerts: Arc<dyn AlertService>, alert: Alert, clock: SharedClock) -> Self {
        Self {
            alerts,
            alert,
            after: Duration::ZERO,
            clock,
            state: Mutex::new(State::default()),
        }
    }

    /// Triggers only once the condition has been active this long without a break.
    pub fn after(mut self, grace: Duration) -> Self {
        self.after = grace;
        self
    }

    /// The alert's dedup key.
    pub fn dedup_key(&self) -> &str {
        &self.alert.dedup_key
    }

    /// Whether the alert is raised.
    pub fn is_raised(&self) -> bool {
        self.state().raised
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Updates are single assignments: a poisoned lock still guards a valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reports the condition's current value; see the type's documentation.
    ///
    /// # Errors
    ///
    /// The alerts port's error when the trigger or resolve failed (it is tried again at
    /// the next check).
    pub async fn check(&self, active: bool) -> Result<ConditionChange> {
        self.check_with(active, BTreeMap::new()).await
    }

    /// Like [`check`](Self::check), adding `details` (the queue depth, the failing
    /// check's message) to the alert when it is triggered.
    ///
    /// # Errors
    ///
    /// As [`check`](Self::check).
    pub async fn check_with(
        &self,
        active: bool,
        details: BTreeMap<String, Value>,
    ) -> Result<ConditionChange> {
        let now = self.clock.now();
        let since = {
            let mut state = self.state();
            if !active {
                state.active_since = None;
                if !state.raised {
                    return Ok(ConditionChange::Unchanged);
                }
                None
            } else {
                let since = *state.active_since.get_or_insert(now);
                if state.raised || now.duration_since(since) < self.after {
                    return Ok(ConditionChange::Unchanged);
                }
                Some(since)
            }
        };
        match since {
            None => {
                self.alerts.resolve(&self.alert.dedup_key).await?;
                self.state().raised = false;
                Ok(ConditionChange::Resolved)
            }
            Some(since) => {
                let mut alert = self.alert.clone();
                alert.details.extend(details);
                if alert.timestamp.is_none() {
                    let elapsed = now.duration_since(since);
                    alert.timestamp = Some(
                        DateTime::<Utc>::from(self.clock.system_time())
                            - chrono::Duration::from_std(elapsed).unwrap_or_default(),
                    );
                }
                self.alerts.trigger(&alert).await?;
                self.state().raised = true;
                Ok(ConditionChange::Triggered)
            }
        }
    }
}
