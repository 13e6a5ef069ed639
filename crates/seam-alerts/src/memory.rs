//! An in-memory adapter: keeps incidents and every call, fails on request. The fake for tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::{Alert, AlertService, validate_dedup_key};

/// Where an incident is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IncidentState {
    /// Open, paging.
    Triggered,
    /// Open, someone is on it: paging stopped.
    Acknowledged,
    /// Closed.
    Resolved,
}

impl IncidentState {
    /// Whether the incident is still open (triggered or acknowledged).
    pub fn is_open(&self) -> bool {
        !matches!(self, Self::Resolved)
    }
}

/// One incident: everything triggered under one dedup key until it was resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The condition's key.
    pub dedup_key: String,
    /// The latest alert triggered for it.
    pub alert: Alert,
    /// Where it is.
    pub state: IncidentState,
    /// How many triggers it received: 1 when it opened, +1 per repeated trigger.
    pub triggers: u32,
}

/// A call the adapter accepted, in order: what a real upstream would have received.
#[derive(Debug, Clone, PartialEq)]
pub enum AlertCall {
    /// `trigger`.
    Trigger(Alert),
    /// `acknowledge`.
    Acknowledge(String),
    /// `resolve`.
    Resolve(String),
}

impl AlertCall {
    /// The dedup key the call was about.
    pub fn dedup_key(&self) -> &str {
        match self {
            Self::Trigger(alert) => &alert.dedup_key,
            Self::Acknowledge(key) | Self::Resolve(key) => key,
        }
    }
}

/// What a call did to the incidents; lets the log adapter say it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// A new incident opened.
    Opened,
    /// The open incident was updated (a repeated trigger).
    Updated,
    /// The open incident was acknowledged.
    Acknowledged,
    /// The open incident was resolved.
    Resolved,
    /// Nothing to do (no open incident, or already acknowledged).
    Nothing,
}

#[derive(Debug, Default)]
struct State {
    incidents: Vec<Incident>,
    /// Index in `incidents` of the open incident per dedup key.
    open: HashMap<String, usize>,
    calls: Vec<AlertCall>,
    failures: VecDeque<Error>,
}

/// An [`AlertService`] that keeps incidents in memory, as an incident tool would.
///
/// It honours the port's contract: a trigger opens an incident unless one is open for
/// the key, in which case it is a no-op *update* (the incident keeps its state, takes
/// the latest alert and counts the trigger): the same condition never opens twice.
/// Acknowledge and resolve of a key with no open incident succeed and change nothing.
/// Failures are scripted with [`fail_next`](Self::fail_next).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use seam_alerts::{Alert, AlertService, InMemoryAlerts, IncidentState, Severity};
///
/// let alerts = InMemoryAlerts::new();
/// let alert = Alert::new("breaker:payments", Severity::Critical, "payments breaker open", "api");
/// alerts.trigger(&alert).await.unwrap();
/// alerts.trigger(&alert).await.unwrap(); // still open: not a second incident
/// assert_eq!(alerts.incidents().len(), 1);
/// alerts.resolve("breaker:payments").await.unwrap();
/// assert_eq!(alerts.incident("breaker:payments").unwrap().state, IncidentState::Resolved);
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryAlerts {
    state: Mutex<State>,
}

impl InMemoryAlerts {
    /// No incidents, no calls.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update completes without panicking between its writes, so a poisoned
        // lock still guards a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the next call fail with `error` (calls fail in the order scripted),
    /// after validation, like an upstream failure would.
    pub fn fail_next(&self, error: Error) {
        self.state().failures.push_back(error);
    }

    /// Every incident, oldest first, resolved ones included.
    pub fn incidents(&self) -> Vec<Incident> {
        self.state().incidents.clone()
    }

    /// The open incidents, oldest first.
    pub fn open_incidents(&self) -> Vec<Incident> {
        self.state()
            .incidents
            .iter()
            .filter(|incident| incident.state.is_open())
            .cloned()
            .collect()
    }

    /// The latest incident for `dedup_key`, open or not.
    pub fn incident(&self, dedup_key: &str) -> Option<Incident> {
        self.state()
            .incidents
            .iter()
            .rev()
            .find(|incident| incident.dedup_key == dedup_key)
            .cloned()
    }

    /// Every call accepted, in order.
    pub fn calls(&self) -> Vec<AlertCall> {
        self.state().calls.clone()
    }

    /// The calls accepted for `dedup_key`, in order.
    pub fn calls_for(&self, dedup_key: &str) -> Vec<AlertCall> {
        self.state()
            .calls
            .iter()
            .filter(|call| call.dedup_key() == dedup_key)
            .cloned()
            .collect()
    }

    /// Validates, fails if scripted, records the call and applies it.
    pub(crate) fn apply(&self, call: AlertCall) -> Result<Change> {
        match &call {
            AlertCall::Trigger(alert) => alert.validate()?,
            AlertCall::Acknowledge(key) | AlertCall::Resolve(key) => validate_dedup_key(key)?,
        }
        let mut state = self.state();
        if let Some(error) = state.failures.pop_front() {
            return Err(error);
        }
        let open = state.open.get(call.dedup_key()).copied();
        let change = match (&call, open) {
            (AlertCall::Trigger(alert), Some(index)) => {
                let incident = &mut state.incidents[index];
                incident.alert = alert.clone();
                incident.triggers += 1;
                Change::Updated
            }
            (AlertCall::Trigger(alert), None) => {
                let index = state.incidents.len();
                state.incidents.push(Incident {
                    dedup_key: alert.dedup_key.clone(),
                    alert: alert.clone(),
                    state: IncidentState::Triggered,
                    triggers: 1,
                });
                state.open.insert(alert.dedup_key.clone(), index);
                Change::Opened
            }
            (AlertCall::Acknowledge(_), Some(index)) => {
                let incident = &mut state.incidents[index];
                if incident.state == IncidentState::Triggered {
                    incident.state = IncidentState::Acknowledged;
                    Change::Acknowledged
                } else {
                    Change::Nothing
                }
            }
            (AlertCall::Resolve(key), Some(index)) => {
                state.incidents[index].state = IncidentState::Resolved;
                state.open.remove(key.as_str());
                Change::Resolved
            }
            (AlertCall::Acknowledge(_) | AlertCall::Resolve(_), None) => Change::Nothing,
        };
        state.calls.push(call);
        Ok(change)
    }
}

#[async_trait]
impl AlertService for InMemoryAlerts {
    async fn trigger(&self, alert: &Alert) -> Result<()> {
        self.apply(AlertCall::Trigger(alert.clone())).map(drop)
    }

    async fn acknowledge(&self, dedup_key: &str) -> Result<()> {
        self.apply(AlertCall::Acknowledge(dedup_key.to_owned()))
            .map(drop)
    }

    async fn resolve(&self, dedup_key: &str) -> Result<()> {
        self.apply(AlertCall::Resolve(dedup_key.to_owned()))
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn alert(key: &str, summary: &str) -> Alert {
        Alert::new(key, Severity::Error, summary, "test")
    }

    #[test]
    fn the_same_open_key_never_opens_twice() {
        let alerts = InMemoryAlerts::new();
        assert_eq!(
            alerts.apply(AlertCall::Trigger(alert("k", "one"))).unwrap(),
            Change::Opened
        );
        assert_eq!(
            alerts.apply(AlertCall::Trigger(alert("k", "two"))).unwrap(),
            Change::Updated
        );
        assert_eq!(
            alerts.apply(AlertCall::Acknowledge("k".into())).unwrap(),
            Change::Acknowledged
        );
        // Triggered again while acknowledged: still the same incident, still acknowledged.
        assert_eq!(
            alerts
                .apply(AlertCall::Trigger(alert("k", "three")))
                .unwrap(),
            Change::Updated
        );
        let incident = alerts.incident("k").unwrap();
        assert_eq!(
            (
                incident.state,
                incident.triggers,
                incident.alert.summary.as_str()
            ),
            (IncidentState::Acknowledged, 3, "three")
        );
        assert_eq!(alerts.open_incidents().len(), 1);
        assert_eq!(
            alerts.apply(AlertCall::Resolve("k".into())).unwrap(),
            Change::Resolved
        );
        assert_eq!(
            alerts.apply(AlertCall::Resolve("k".into())).unwrap(),
            Change::Nothing
        );
        // After the resolve, the same condition opens a new incident.
        assert_eq!(
            alerts
                .apply(AlertCall::Trigger(alert("k", "four")))
                .unwrap(),
            Change::Opened
        );
        assert_eq!(alerts.incidents().len(), 2);
        assert_eq!(alerts.open_incidents()[0].alert.summary, "four");
        assert_eq!(alerts.calls_for("k").len(), 7);
    }

    #[test]
    fn unknown_keys_are_no_ops_and_bad_keys_invalid() {
        let alerts = InMemoryAlerts::new();
        assert_eq!(
            alerts.apply(AlertCall::Acknowledge("none".into())).unwrap(),
            Change::Nothing
        );
        assert_eq!(
            alerts.apply(AlertCall::Resolve("none".into())).unwrap(),
            Change::Nothing
        );
        assert!(alerts.incidents().is_empty());
        assert!(matches!(
            alerts.apply(AlertCall::Resolve(String::new())),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            alerts.apply(AlertCall::Trigger(alert("k", ""))),
            Err(Error::Invalid(_))
        ));
        assert_eq!(alerts.calls().len(), 2);
    }

    #[test]
    fn scripted_failures_come_in_order_and_record_nothing() {
        let alerts = InMemoryAlerts::new();
        alerts.fail_next(Error::transient("down"));
        alerts.fail_next(Error::RateLimited { retry_after: None });
        assert!(matches!(
            alerts.apply(AlertCall::Trigger(alert("k", "x"))),
            Err(Error::Transient { .. })
        ));
        assert!(matches!(
            alerts.apply(AlertCall::Trigger(alert("k", "x"))),
            Err(Error::RateLimited { .. })
        ));
        assert!(alerts.calls().is_empty());
        assert_eq!(
            alerts.apply(AlertCall::Trigger(alert("k", "x"))).unwrap(),
            Change::Opened
        );
    }
}
