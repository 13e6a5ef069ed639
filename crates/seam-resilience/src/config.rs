//! Configuration of the whole pipeline, as read from a config file, and its validation.

use std::time::Duration;

use serde::Deserialize;

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
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Whether the overall timeout applies. Default `true`.
    pub enabled: bool,
    /// The limit on the whole call, retries and backoff included. Default 30 s.
    #[serde(with = "duration")]
    pub total: Duration,
    /// A limit on each attempt, inside the circuit breaker, so that a hung attempt
    /// counts as a failure and can be retried. Default none.
    #[serde(with = "option_duration")]
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
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
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

/// Parses a duration such as `"250ms"`, `"30s"`, `"1m30s"`, `"1.5s"` or `"0"`.
///
/// Units: `ns`, `us`, `ms`, `s`, `m`, `h`, `d`. A bare number is accepted only for zero,
/// because a unitless non-zero duration in a config file is a bug waiting to happen.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{text:?}: missing unit (use ms, s, m, h ...)"))?;
        if number_len == 0 {
            return Err(format!("{text:?}: expected a number before the unit"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| format!("{text:?}: bad number {:?}", &rest[..number_len]))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match rest[..unit_len].trim() {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hr" | "hours" => 3600.0,
            "d" | "days" => 86_400.0,
            unit => return Err(format!("{text:?}: unknown unit {unit:?}")),
        };
        total += number * seconds_per_unit;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|e| format!("{text:?}: {e}"))
}

/// Serde support for `Duration` fields written as `"30s"`; see [`parse_duration`].
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde support for `Option<Duration>` fields written as `"30s"`.
pub(crate) mod option_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        super::parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        let cases = [
            ("0", Duration::ZERO),
            ("250ms", Duration::from_millis(250)),
            ("30s", Duration::from_secs(30)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("2h", Duration::from_secs(7200)),
            ("10us", Duration::from_micros(10)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
        for bad in ["", "10", "s", "5 parsecs", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should not parse");
        }
    }

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
        let error = toml::from_str::<ResilienceConfig>("[timeout]\ntotal = \"30\"\n").unwrap_err();
        assert!(error.to_string().contains("missing unit"), "{error}");
    }

    #[test]
    fn disabled_sections_are_not_validated() {
        let config: ResilienceConfig =
            toml::from_str("[bulkhead]\nenabled = false\nmax_concurrent = 0\n").unwrap();
        config.validate().unwrap();
    }
}
