//! Health-check settings.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often and how patiently dependencies are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Time between two rounds of checks.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// How long one check may take before it counts as down.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// A check that answers up but takes longer than this is reported degraded.
    #[serde(with = "humantime_serde")]
    pub degraded_after: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
            degraded_after: Duration::from_secs(1),
        }
    }
}

impl HealthConfig {
    /// Checks the settings make sense together.
    ///
    /// # Errors
    ///
    /// A message naming the offending key when a duration is zero or the slow
    /// threshold is not below the timeout.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval.is_zero() {
            return Err("health.interval must be greater than zero".to_owned());
        }
        if self.timeout.is_zero() {
            return Err("health.timeout must be greater than zero".to_owned());
        }
        if self.degraded_after >= self.timeout {
            return Err(format!(
                "health.degraded_after ({}) must be less than health.timeout ({})",
                humantime::format_duration(self.degraded_after),
                humantime::format_duration(self.timeout)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        HealthConfig::default().validate().unwrap();
    }

    #[test]
    fn slow_threshold_must_be_below_timeout() {
        let config = HealthConfig {
            degraded_after: Duration::from_secs(5),
            ..HealthConfig::default()
        };
        assert_eq!(
            config.validate().unwrap_err(),
            "health.degraded_after (5s) must be less than health.timeout (3s)"
        );
    }
}
