//! The alerts port: how Seam tells the people on call that something is wrong, and
//! that it is fixed, without knowing who pages them.
//!
//! - [`AlertService`]: `trigger`, `acknowledge` and `resolve`, keyed by a *dedup key*
//!   naming the condition (`breaker:payments`, `dlq:orders`, `health:postgres`), used
//!   as `Arc<dyn AlertService>`. The same open condition never pages twice: a second
//!   trigger with an open dedup key updates the open incident.
//! - [`Alert`]: what a trigger carries: severity, summary, source, component, details.
//! - [`Error`]: one error enum, [`Classify`](seam_core::Classify)-ed for retry policies.
//! - [`InMemoryAlerts`]: keeps incidents and every call in memory; the fake for tests.
//! - [`LogAlerts`]: logs alerts with `tracing`; the embedded default when nobody is paged.
//! - `conformance` (feature `conformance`): the suite every adapter's test runs.
//! - [`condition::ConditionAlert`]: one alert per occurrence of a condition checked
//!   periodically (a dead-letter queue above its limit, a dependency down for longer
//!   than allowed), with a grace period, resolved when it clears.
//! - `breaker` (feature `resilience`): alerts when a circuit breaker opens, resolved
//!   when it closes.

#[cfg(feature = "resilience")]
pub mod breaker;
pub mod condition;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod log;
pub mod memory;

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use error::{Error, Result};
pub use log::LogAlerts;
pub use memory::{AlertCall, InMemoryAlerts, Incident, IncidentState};

/// Longest dedup key, in characters (PagerDuty's limit).
pub const MAX_DEDUP_KEY_CHARS: usize = 255;
/// Longest summary, in characters (PagerDuty's limit).
pub const MAX_SUMMARY_CHARS: usize = 1024;

/// How bad it is: who gets woken up is the upstream's routing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Service down or losing data: page now.
    Critical,
    /// Something failed and needs attention soon.
    Error,
    /// Degraded, or heading for trouble.
    Warning,
    /// For the record.
    Info,
}

impl Severity {
    /// The lower-case name (`critical`, `error`, `warning`, `info`), as PagerDuty spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Error => "error",
            Self::Warning => "warning",
            Self::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A condition to page about.
///
/// Never put secrets or personal data in `summary` or `details`: they leave the
/// process and are shown to everyone on call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Names the condition; the same key is the same incident until resolved.
    pub dedup_key: String,
    /// How bad it is.
    pub severity: Severity,
    /// One line saying what is wrong (at most [`MAX_SUMMARY_CHARS`]).
    pub summary: String,
    /// Where it happens: the service or host (`seam-api@host-1`).
    pub source: String,
    /// The part that is broken (`payments`, `postgres`), when known.
    pub component: Option<String>,
    /// Anything that helps whoever is paged.
    pub details: BTreeMap<String, Value>,
    /// When the condition started; the upstream's receipt time when absent.
    pub timestamp: Option<DateTime<Utc>>,
}

impl Alert {
    /// An alert with no component, details or timestamp.
    pub fn new(
        dedup_key: impl Into<String>,
        severity: Severity,
        summary: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Self {
            dedup_key: dedup_key.into(),
            severity,
            summary: summary.into(),
            source: source.into(),
            component: None,
            details: BTreeMap::new(),
            timestamp: None,
        }
    }

    /// Sets the component.
    pub fn with_component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }

    /// Adds a detail.
    pub fn with_detail(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.details.insert(key.into(), value.into());
        self
    }

    /// Sets when the condition started.
    pub fn with_timestamp(mut self, timestamp: DateTime<Utc>) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Checks what every adapter requires; see [`AlertService::trigger`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field: a dedup key that [`validate_dedup_key`]
    /// refuses, a blank or too long summary, a blank source, a blank component.
    pub fn validate(&self) -> Result<()> {
        validate_dedup_key(&self.dedup_key)?;
        if self.summary.trim().is_empty() {
            return Err(Error::invalid("`summary` must not be empty"));
        }
        let chars = self.summary.chars().count();
        if chars > MAX_SUMMARY_CHARS {
            return Err(Error::invalid(format!(
                "`summary` has {chars} characters, at most {MAX_SUMMARY_CHARS} are allowed"
            )));
        }
        if self.source.trim().is_empty() {
            return Err(Error::invalid("`source` must not be empty"));
        }
        if self
            .component
            .as_deref()
            .is_some_and(|component| component.trim().is_empty())
        {
            return Err(Error::invalid("`component` must not be blank when set"));
        }
        Ok(())
    }
}

/// Checks a dedup key: not blank, at most [`MAX_DEDUP_KEY_CHARS`] characters, no
/// control characters.
///
/// # Errors
///
/// [`Error::Invalid`] saying which rule the key breaks.
pub fn validate_dedup_key(dedup_key: &str) -> Result<()> {
    if dedup_key.trim().is_empty() {
        return Err(Error::invalid("`dedup_key` must not be empty"));
    }
    let chars = dedup_key.chars().count();
    if chars > MAX_DEDUP_KEY_CHARS {
        return Err(Error::invalid(format!(
            "`dedup_key` has {chars} characters, at most {MAX_DEDUP_KEY_CHARS} are allowed"
        )));
    }
    if dedup_key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "`dedup_key` must not contain control characters",
        ));
    }
    Ok(())
}

/// Pages people about conditions, keyed by dedup key.
///
/// # Contract
///
/// - `trigger` MUST validate the alert as [`Alert::validate`] does and MUST return
///   [`Error::Invalid`] for an alert it refuses, before anything is sent.
/// - `trigger` with a dedup key that has no open incident MUST open one. With a key
///   whose incident is open (triggered or acknowledged), it MUST succeed and MUST NOT
///   open a second incident: the open one is updated (latest summary and details) and
///   nobody is paged again. After `resolve`, the same key opens a new incident.
/// - `acknowledge` MUST mark the open incident acknowledged (it stays open, paging
///   stops); `resolve` MUST close it. Both MUST succeed, doing nothing, for a key with
///   no open incident (so a resolve can be sent whenever a condition clears, and
///   retried), and MUST return [`Error::Invalid`] for a key [`validate_dedup_key`]
///   refuses.
/// - Every operation is idempotent, so retrying after [`Error::Timeout`] or
///   [`Error::Transient`] is safe.
/// - Failures MUST map to the right variant: [`Error::RateLimited`] for HTTP 429
///   (with its `Retry-After`), [`Error::Transient`] for 5xx and connection failures,
///   [`Error::Invalid`] for an event the upstream refused as malformed,
///   [`Error::Unauthorized`] for rejected credentials, [`Error::Timeout`] when the
///   upstream did not answer in time.
#[async_trait]
pub trait AlertService: Debug + Send + Sync + 'static {
    /// Opens (or updates) the incident for `alert.dedup_key`.
    async fn trigger(&self, alert: &Alert) -> Result<()>;

    /// Acknowledges the open incident for `dedup_key`, if any.
    async fn acknowledge(&self, dedup_key: &str) -> Result<()>;

    /// Resolves the open incident for `dedup_key`, if any.
    async fn resolve(&self, dedup_key: &str) -> Result<()>;
}

/// The port as a trait object: what services hold, as `Arc<DynAlertService>`.
pub type DynAlertService = dyn AlertService;

#[async_trait]
impl<T: AlertService + ?Sized> AlertService for Arc<T> {
    async fn trigger(&self, alert: &Alert) -> Result<()> {
        (**self).trigger(alert).await
    }

    async fn acknowledge(&self, dedup_key: &str) -> Result<()> {
        (**self).acknowledge(dedup_key).await
    }

    async fn resolve(&self, dedup_key: &str) -> Result<()> {
        (**self).resolve(dedup_key).await
    }
}

#[async_trait]
impl<T: AlertService + ?Sized> AlertService for Box<T> {
    async fn trigger(&self, alert: &Alert) -> Result<()> {
        (**self).trigger(alert).await
    }

    async fn acknowledge(&self, dedup_key: &str) -> Result<()> {
        (**self).acknowledge(dedup_key).await
    }

    async fn resolve(&self, dedup_key: &str) -> Result<()> {
        (**self).resolve(dedup_key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
        Alert::new(
            "breaker:payments",
            Severity::Critical,
            "payments down",
            "seam-api",
        )
    }

    #[test]
    fn valid_alerts_pass_and_each_rule_is_named() {
        assert!(alert().with_component("payments").validate().is_ok());
        let cases = [
            (
                Alert {
                    dedup_key: " ".into(),
                    ..alert()
                },
                "dedup_key",
            ),
            (
                Alert {
                    dedup_key: "k".repeat(256),
                    ..alert()
                },
                "dedup_key",
            ),
            (
                Alert {
                    dedup_key: "a\nb".into(),
                    ..alert()
                },
                "control",
            ),
            (
                Alert {
                    summary: "".into(),
                    ..alert()
                },
                "summary",
            ),
            (
                Alert {
                    summary: "s".repeat(1025),
                    ..alert()
                },
                "summary",
            ),
            (
                Alert {
                    source: "\t".into(),
                    ..alert()
                },
                "source",
            ),
            (alert().with_component(" "), "component"),
        ];
        for (alert, field) in cases {
            let error = alert.validate().unwrap_err();
            assert!(matches!(error, Error::Invalid(_)), "{error}");
            assert!(error.to_string().contains(field), "{error}");
        }
        assert!(
            Alert {
                dedup_key: "é".repeat(255),
                ..alert()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn severity_is_spelled_as_pagerduty_does() {
        assert_eq!(
            serde_json::to_string(&Severity::Warning).unwrap(),
            "\"warning\""
        );
        assert_eq!(Severity::Critical.to_string(), "critical");
        assert!(Severity::Critical < Severity::Info);
    }
}
