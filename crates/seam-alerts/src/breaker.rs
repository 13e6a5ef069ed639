//! Alerts from circuit breakers (feature `resilience`): a breaker that opens pages
//! someone, and the page is resolved when it closes.
//!
//! The dedup key is `breaker:<name>` (the breaker's health-check name), so a breaker
//! that flaps between open and half-open updates one incident instead of opening one
//! per trip.
//!
//! | transition | alert |
//! | --- | --- |
//! | to `open` (failure count, failure rate, slow calls, failed trial) | trigger, the configured severity (default `critical`) |
//! | to `forced_open` (an operator) | trigger, `warning`: someone already knows |
//! | to `half_open` | nothing: the upstream is still being probed |
//! | to `closed` or `forced_closed` | resolve |

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use seam_resilience::{BreakerEvent, CircuitBreaker, CircuitState};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::{Alert, AlertService, Severity};

/// What a breaker event asks of the alerts port.
#[derive(Debug, Clone, PartialEq)]
pub enum BreakerAlert {
    /// Open (or update) the breaker's incident.
    Trigger(Alert),
    /// Resolve the breaker's incident.
    Resolve(String),
}

/// Turns breaker state changes into alerts.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::sync::Arc;
///
/// use seam_alerts::InMemoryAlerts;
/// use seam_alerts::breaker::BreakerAlerts;
/// use seam_core::ManualClock;
/// use seam_resilience::{CircuitBreaker, CircuitBreakerConfig};
///
/// let alerts = Arc::new(InMemoryAlerts::new());
/// let breaker = CircuitBreaker::new("payments", &CircuitBreakerConfig::default(), ManualClock::new().shared()).unwrap();
/// let forwarding = BreakerAlerts::new(alerts.clone(), "seam-api").attach(&breaker);
/// breaker.force_open();
/// forwarding.flush().await;
/// assert!(alerts.incident("breaker:payments").unwrap().state.is_open());
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct BreakerAlerts {
    alerts: Arc<dyn AlertService>,
    source: String,
    severity: Severity,
}

impl BreakerAlerts {
    /// Alerts to `alerts`, naming `source` (the service or host) as where it happens,
    /// with severity `critical`.
    pub fn new(alerts: Arc<dyn AlertService>, source: impl Into<String>) -> Self {
        Self {
            alerts,
            source: source.into(),
            severity: Severity::Critical,
        }
    }

    /// The severity of an automatic opening (forced openings are always `warning`).
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The dedup key of a breaker's alert: `breaker:<name>`.
    pub fn dedup_key(breaker: &str) -> String {
        format!("breaker:{breaker}")
    }

    /// What `event` asks of the alerts port, if anything; see the module's table.
    pub fn action_for(&self, event: &BreakerEvent) -> Option<BreakerAlert> {
        let key = Self::dedup_key(&event.breaker);
        let (severity, verb) = match event.to {
            CircuitState::Open => (self.severity, "opened"),
            CircuitState::ForcedOpen => (Severity::Warning, "was forced open"),
            CircuitState::Closed | CircuitState::ForcedClosed => {
                return Some(BreakerAlert::Resolve(key));
            }
            CircuitState::HalfOpen => return None,
        };
        let at = DateTime::<Utc>::from(event.at);
        let alert = Alert::new(
            key,
            severity,
            format!(
                "circuit breaker `{}` {verb} ({}): calls to it fail fast",
                event.breaker, event.reason
            ),
            self.source.clone(),
        )
        .with_component(event.breaker.to_string())
        .with_detail("breaker", event.breaker.to_string())
        .with_detail("from", event.from.as_str())
        .with_detail("to", event.to.as_str())
        .with_detail("reason", event.reason.as_str())
        .with_detail("at", at.to_rfc3339_opts(SecondsFormat::Millis, true))
        .with_timestamp(at);
        Some(BreakerAlert::Trigger(alert))
    }

    /// Sends what `event` asks for.
    ///
    /// # Errors
    ///
    /// The alerts port's error, as is.
    pub async fn handle(&self, event: &BreakerEvent) -> Result<()> {
        match self.action_for(event) {
            Some(BreakerAlert::Trigger(alert)) => self.alerts.trigger(&alert).await,
            Some(BreakerAlert::Resolve(key)) => self.alerts.resolve(&key).await,
            None => Ok(()),
        }
    }

    /// Forwards every state change of `breaker` from now on, in order, on a Tokio task
    /// (the breaker's listeners must not block, and alerting is I/O).
    ///
    /// A failed alert is logged at WARN and the next event is handled: wrap the alert
    /// service in a retry policy when a lost page is not acceptable. Forwarding lasts
    /// as long as the breaker, whether or not the returned handle is kept; the handle
    /// lets a caller wait until everything so far was sent.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn attach(self, breaker: &CircuitBreaker) -> BreakerAlertTask {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Message>();
        let listener = sender.clone();
        breaker.on_transition(move |event| {
            // The task ends only once every sender is gone, so this cannot fail while
            // the breaker exists; a failure would only mean nobody listens any more.
            let _ = listener.send(Message::Event(event.clone()));
        });
        let task = tokio::spawn(async move {
            while let Some(message) = receiver.recv().await {
                match message {
                    Message::Event(event) => {
                        if let Err(error) = self.handle(&event).await {
                            tracing::warn!(
                                breaker = %event.breaker,
                                to = %event.to,
                                error.message = %error,
                                error.cause_chain = ?error,
                                "could not send the circuit breaker's alert"
                            );
                        }
                    }
                    Message::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        BreakerAlertTask { sender, task }
    }
}

enum Message {
    Event(BreakerEvent),
    Flush(oneshot::Sender<()>),
}

/// The task forwarding one breaker's events to the alerts port.
#[derive(Debug)]
pub struct BreakerAlertTask {
    sender: mpsc::UnboundedSender<Message>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(event) => f.debug_tuple("Event").field(event).finish(),
            Self::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl BreakerAlertTask {
    /// Waits until every event the breaker published before this call was handled.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.sender.send(Message::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// Stops forwarding.
    pub fn abort(&self) {
        self.task.abort();
    }
}
