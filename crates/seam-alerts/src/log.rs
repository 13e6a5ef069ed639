//! A log adapter: alerts become `tracing` events. The embedded default, when nobody is paged.

use async_trait::async_trait;

use crate::error::Result;
use crate::memory::{AlertCall, Change, InMemoryAlerts};
use crate::{Alert, AlertService, Severity};

/// An [`AlertService`] that writes alerts to the log (target `seam_alerts`).
///
/// It keeps incidents like [`InMemoryAlerts`] does, so it honours the same contract and
/// logs each condition once: a new incident is logged at the level its severity says
/// (`critical` and `error` at ERROR, `warning` at WARN, `info` at INFO); a repeated
/// trigger of an open incident only at DEBUG; acknowledge and resolve at INFO when
/// they change an open incident, at DEBUG otherwise.
#[derive(Debug, Default)]
pub struct LogAlerts {
    incidents: InMemoryAlerts,
}

impl LogAlerts {
    /// A log adapter with no open incidents.
    pub fn new() -> Self {
        Self::default()
    }

    /// The incidents and calls so far, for inspection.
    pub fn incidents(&self) -> &InMemoryAlerts {
        &self.incidents
    }
}

fn details(alert: &Alert) -> String {
    serde_json::to_string(&alert.details).unwrap_or_default()
}

#[async_trait]
impl AlertService for LogAlerts {
    async fn trigger(&self, alert: &Alert) -> Result<()> {
        let change = self.incidents.apply(AlertCall::Trigger(alert.clone()))?;
        let component = alert.component.as_deref().unwrap_or("");
        if change != Change::Opened {
            tracing::debug!(
                target: "seam_alerts",
                dedup_key = %alert.dedup_key,
                severity = %alert.severity,
                summary = %alert.summary,
                "alert still open, not raised again"
            );
            return Ok(());
        }
        macro_rules! raise {
            ($level:ident) => {
                tracing::$level!(
                    target: "seam_alerts",
                    dedup_key = %alert.dedup_key,
                    severity = %alert.severity,
                    source = %alert.source,
                    component,
                    details = %details(alert),
                    "ALERT: {}",
                    alert.summary
                )
            };
        }
        match alert.severity {
            Severity::Critical | Severity::Error => raise!(error),
            Severity::Warning => raise!(warn),
            Severity::Info => raise!(info),
        }
        Ok(())
    }

    async fn acknowledge(&self, dedup_key: &str) -> Result<()> {
        match self
            .incidents
            .apply(AlertCall::Acknowledge(dedup_key.to_owned()))?
        {
            Change::Acknowledged => {
                tracing::info!(target: "seam_alerts", dedup_key, "alert acknowledged")
            }
            _ => {
                tracing::debug!(target: "seam_alerts", dedup_key, "no triggered alert to acknowledge")
            }
        }
        Ok(())
    }

    async fn resolve(&self, dedup_key: &str) -> Result<()> {
        match self
            .incidents
            .apply(AlertCall::Resolve(dedup_key.to_owned()))?
        {
            Change::Resolved => tracing::info!(target: "seam_alerts", dedup_key, "alert resolved"),
            _ => tracing::debug!(target: "seam_alerts", dedup_key, "no open alert to resolve"),
        }
        Ok(())
    }
}
