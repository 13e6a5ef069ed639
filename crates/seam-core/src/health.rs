//! How a dependency reports whether it is usable.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// Whether a dependency is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Working normally.
    Up,
    /// Working, but slow or partly impaired (for example a circuit half-open).
    Degraded,
    /// Not usable.
    Down,
}

impl HealthStatus {
    /// The lower-case name, as in JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one health check: a status and, when not up, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// The status found.
    pub status: HealthStatus,
    /// A short, safe explanation (never a secret or a connection string).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Health {
    /// The dependency works.
    pub fn up() -> Self {
        Self {
            status: HealthStatus::Up,
            detail: None,
        }
    }

    /// The dependency works but is impaired.
    pub fn degraded(detail: impl Into<String>) -> Self {
        Self {
            status: HealthStatus::Degraded,
            detail: Some(detail.into()),
        }
    }

    /// The dependency is not usable.
    pub fn down(detail: impl Into<String>) -> Self {
        Self {
            status: HealthStatus::Down,
            detail: Some(detail.into()),
        }
    }
}

/// A check of one dependency (a database, a broker, a circuit breaker, ...).
///
/// Checks are run in the background by a health registry, never on the request
/// path, so they may do real I/O (a `SELECT 1`, a `PING`). A check should answer
/// quickly; the registry applies its own timeout and marks a check that overruns
/// it as down.
#[async_trait]
pub trait HealthCheck: Send + Sync + 'static {
    /// A stable name for the dependency, such as `"database"` or `"breaker:payments"`.
    fn name(&self) -> &str;

    /// Checks the dependency once.
    async fn check(&self) -> Health;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_order_from_best_to_worst() {
        assert!(HealthStatus::Up < HealthStatus::Degraded);
        assert!(HealthStatus::Degraded < HealthStatus::Down);
    }

    #[test]
    fn serialises_lower_case_and_omits_empty_detail() {
        assert_eq!(
            serde_json::to_string(&Health::up()).unwrap(),
            r#"{"status":"up"}"#
        );
        assert_eq!(
            serde_json::to_string(&Health::down("refused")).unwrap(),
            r#"{"status":"down","detail":"refused"}"#
        );
    }
}
