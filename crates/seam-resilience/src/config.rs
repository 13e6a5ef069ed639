//! Configuration of the whole pipeline, as read from a config file, and its validation.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::CircuitBreakerConfig;
use crate::bulkhead::BulkheadConfig;
use crate::rate_limit::RateLimitConfig;
use crate::retry::RetryConfig;

/// A configuration value is out of range; the message names the field and the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct ConfigError {
    /// The dotted path of the field, such as `circuit_breaker.failure_rate_threshold`.
    pub field: String,
    /// What is wrong with it, including the value given.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Prefixes the field with the name of the section that holds it.
    pub(crate) fn within(mut self, section: &str) -> Self {
        self.field = format!("{section}.{}", self.field);
        self
    }
}

/// The timeouts of a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Whether the overall timeout applies. Default `true`.
    pub enabled: bool,
    /// The limit on the whole call, retries and backoff included. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub total: Duration,
    /// A limit on each attempt, inside the circuit breaker, so that a hung attempt
    /// counts as a failure and can be retried. Default none.
    #[serde(default, with = "humantime_serde::option")]
    pub per_attempt: Option<Duration>,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            total: Duration::from_secs(30),
            per_attempt: None,
        }
    }
}

impl TimeoutConfig {
    /// Checks every field; the error names the first one out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && self.total.is_zero() {
            return Err(ConfigError::new("total", "must be greater than 0"));
        }
        if self.per_attempt.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::new("per_attempt", "must be greater than 0"));
        }
        Ok(())
    }
}

/// The configuration of a whole [`Pipeline`](crate::Pipeline), one section per policy.
///
/// Each section has an `enabled` flag, so a file can turn a policy off. By default
/// timeout, retry and circuit breaker are on; bulkhead and rate limit are off, because
/// their limits depend on the upstream and have no safe universal value.
///
/// ```
/// use seam_resilience::ResilienceConfig;
///
/// let config: ResilienceConfig = toml::from_str(r#"
///     [timeout]
///     total = "10s"
///     [retry]
///     max_attempts = 4
///     base_delay = "50ms"
///     [circuit_breaker]
///     failure_count_threshold = 5
///     window = "60s"
///     open_duration = "30s"
///     [bulkhead]
///     enabled = true
///     max_concurrent = 16
/// "#).unwrap();
/// config.validate().unwrap();
/// assert_eq!(config.retry.max_attempts, 4);
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Overall and per-attempt timeouts.
    pub timeout: TimeoutConfig,
    /// Retries with backoff and budget.
    pub retry: RetryConfig,
    /// The circuit breaker.
    pub circuit_breaker: CircuitBreakerConfig,
    /// The bulkhead (concurrency limit).
    pub bulkhead: BulkheadConfig,
    /// The rate limiter.
    pub rate_limit: RateLimitConfig,
}

impl ResilienceConfig {
    /// Checks every section; the error names the first field out of range, with its section.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.timeout.validate().map_err(|e| e.within("timeout"))?;
        if self.retry.enabled {
            self.retry.validate().map_err(|e| e.within("retry"))?;
        }
        if self.circuit_breaker.enabled {
            self.circuit_breaker
                .validate()
                .map_err(|e| e.within("circuit_breaker"))?;
        }
        if self.bulkhead.enabled {
            self.bulkhead.validate().map_err(|e| e.within("bulkhead"))?;
        }
        if self.rate_limit.enabled {
            self.rate_limit
                .validate()
                .map_err(|e| e.within("rate_limit"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        ResilienceConfig::default().validate().unwrap();
        let all_on = ResilienceConfig {
            bulkhead: BulkheadConfig {
                enabled: true,
                ..BulkheadConfig::default()
            },
            rate_limit: RateLimitConfig {
                enabled: true,
                ..RateLimitConfig::default()
            },
            ..ResilienceConfig::default()
        };
        all_on.validate().unwrap();
    }

    #[test]
    fn validation_names_the_field_and_value() {
        let config: ResilienceConfig =
            toml::from_str("[circuit_breaker]\nfailure_rate_threshold = 150.0\n").unwrap();
        let error = config.validate().unwrap_err();
        assert_eq!(error.field, "circuit_breaker.failure_rate_threshold");
        assert_eq!(
            error.to_string(),
            "circuit_breaker.failure_rate_threshold must be between 0 and 100, got 150"
        );

        let config: ResilienceConfig = toml::from_str("[retry]\nmax_attempts = 0\n").unwrap();
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "retry.max_attempts must be at least 1, got 0"
        );
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_refused() {
        let error = toml::from_str::<ResilienceConfig>("[retry]\nmax_atempts = 3\n").unwrap_err();
        assert!(error.to_string().contains("max_atempts"), "{error}");
        // A unitless duration is refused rather than guessed.
        let error = toml::from_str::<ResilienceConfig>("[timeout]\ntotal = \"30\"\n").unwrap_err();
        assert!(error.to_string().contains("expected a duration"), "{error}");
        let config: ResilienceConfig =
            toml::from_str("[timeout]\ntotal = \"1m 30s\"\nper_attempt = \"250ms\"\n").unwrap();
        assert_eq!(config.timeout.total, Duration::from_secs(90));
        assert_eq!(config.timeout.per_attempt, Some(Duration::from_millis(250)));
    }

    #[test]
    fn disabled_sections_are_not_validated() {
        let config: ResilienceConfig =
            toml::from_str("[bulkhead]\nenabled = false\nmax_concurrent = 0\n").unwrap();
        config.validate().unwrap();
    }
}
