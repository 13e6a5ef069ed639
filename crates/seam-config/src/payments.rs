//! `[payments]`: which payment provider, and the breaker guarding it; `[alerts]`: who
//! is paged, and when.

use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Which payment provider takes the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentsBackend {
    /// The embedded sandbox (the default): magic values, signed Stripe-shaped events.
    Sandbox,
    /// Stripe's API, `[payments.stripe]`.
    Stripe,
    /// The in-memory adapter (tests).
    Memory,
}

/// `[payments.stripe]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripePaymentsSettings {
    /// The secret (`sk_…`) or restricted (`rk_…`) key; required with `backend = "stripe"`.
    pub secret_key: Option<SecretString>,
    /// The API base URL (a local mock in tests).
    pub base_url: String,
    /// Longest wait for one API call.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for StripePaymentsSettings {
    fn default() -> Self {
        Self {
            secret_key: None,
            base_url: "https://api.stripe.com".to_owned(),
            timeout: Duration::from_secs(20),
        }
    }
}

/// `[payments.sandbox]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxPaymentsSettings {
    /// Where the sandbox posts its signed events, like Stripe does: the API's own
    /// `/webhooks/stripe`. Empty: events are not sent.
    pub webhook_url: String,
}

impl Default for SandboxPaymentsSettings {
    fn default() -> Self {
        Self {
            webhook_url: "http://127.0.0.1:8080/webhooks/stripe".to_owned(),
        }
    }
}

/// `[payments.breaker]`: the circuit breaker around the provider, like the classic guide.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsBreakerSettings {
    /// Open after this many failures within `window`. Default 5.
    pub failure_threshold: u32,
    /// The sliding window failures are counted in. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long it stays open before letting trial calls through. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
    /// How many trial calls must succeed to close it again. Default 3.
    pub half_open_calls: u32,
}

impl Default for PaymentsBreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            window: Duration::from_secs(60),
            open_duration: Duration::from_secs(30),
            half_open_calls: 3,
        }
    }
}

/// `[payments]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsSettings {
    /// The provider.
    pub backend: PaymentsBackend,
    /// Stripe, when `backend = "stripe"`.
    pub stripe: StripePaymentsSettings,
    /// The sandbox, when `backend = "sandbox"`.
    pub sandbox: SandboxPaymentsSettings,
    /// The circuit breaker.
    pub breaker: PaymentsBreakerSettings,
    /// Attempts per call, the first included (only transient failures are retried,
    /// with the same idempotency key). Default 3.
    pub retry_attempts: u32,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            backend: PaymentsBackend::Sandbox,
            stripe: StripePaymentsSettings::default(),
            sandbox: SandboxPaymentsSettings::default(),
            breaker: PaymentsBreakerSettings::default(),
            retry_attempts: 3,
        }
    }
}

impl PaymentsSettings {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.backend == PaymentsBackend::Stripe {
            match &self.stripe.secret_key {
                None => problems.push(
                    "`payments.stripe.secret_key`: required with `payments.backend = \"stripe\"`"
                        .to_owned(),
                ),
                Some(key) if key.expose_secret().trim().is_empty() => {
                    problems.push("`payments.stripe.secret_key`: must not be empty".to_owned())
                }
                Some(_) => {}
            }
            if !self.stripe.base_url.starts_with("http") {
                problems.push(format!(
                    "`payments.stripe.base_url`: expected an http(s) URL, found {:?}",
                    self.stripe.base_url
                ));
            }
        }
        let url = self.sandbox.webhook_url.trim();
        if !url.is_empty() && !url.starts_with("http://") && !url.starts_with("https://") {
            problems.push(format!(
                "`payments.sandbox.webhook_url`: expected an http(s) URL or empty, found {url:?}"
            ));
        }
        let breaker = &self.breaker;
        if breaker.failure_threshold == 0 {
            problems.push("`payments.breaker.failure_threshold`: must be at least 1".to_owned());
        }
        if breaker.half_open_calls == 0 {
            problems.push("`payments.breaker.half_open_calls`: must be at least 1".to_owned());
        }
        if breaker.window.is_zero() || breaker.open_duration.is_zero() {
            problems.push(
                "`payments.breaker.window` and `open_duration`: must be longer than 0".to_owned(),
            );
        }
        if self.retry_attempts == 0 || self.retry_attempts > 10 {
            problems.push(format!(
                "`payments.retry_attempts`: must be between 1 and 10, found {}",
                self.retry_attempts
            ));
        }
        problems
    }
}

/// Who is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertsBackend {
    /// Alerts are written to the log (the default).
    Log,
    /// PagerDuty's Events API v2, `[alerts.pagerduty]`.
    Pagerduty,
    /// Kept in memory (tests).
    Memory,
}

/// `[alerts.pagerduty]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The integration's routing key; required with `backend = "pagerduty"`.
    pub routing_key: Option<SecretString>,
    /// The Events API base URL; PagerDuty's when absent (a mock in tests).
    pub base_url: Option<String>,
}

/// `[alerts]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsSettings {
    /// The alerts backend.
    pub backend: AlertsBackend,
    /// PagerDuty, when `backend = "pagerduty"`.
    pub pagerduty: PagerDutySettings,
    /// Names this deployment in alerts (`seam-production`).
    pub source: String,
    /// Page when a queue's dead letters exceed this many. Default 100.
    pub dead_letter_threshold: u32,
    /// The queues whose dead letters are watched. Default `orders`, `emails`.
    pub dead_letter_queues: Vec<String>,
    /// How often the watcher checks the dead letters and health. Default 30 s.
    #[serde(with = "humantime_serde")]
    pub check_interval: Duration,
    /// Page when a health check has been down this long. Default 5 min.
    #[serde(with = "humantime_serde")]
    pub health_down_after: Duration,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            backend: AlertsBackend::Log,
            pagerduty: PagerDutySettings::default(),
            source: "seam".to_owned(),
            dead_letter_threshold: 100,
            dead_letter_queues: vec!["orders".to_owned(), "emails".to_owned()],
            check_interval: Duration::from_secs(30),
            health_down_after: Duration::from_secs(300),
        }
    }
}

impl AlertsSettings {
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.backend == AlertsBackend::Pagerduty {
            match &self.pagerduty.routing_key {
                None => problems.push(
                    "`alerts.pagerduty.routing_key`: required with `alerts.backend = \"pagerduty\"`"
                        .to_owned(),
                ),
                Some(key) if key.expose_secret().trim().is_empty() => problems
                    .push("`alerts.pagerduty.routing_key`: must not be empty".to_owned()),
                Some(_) => {}
            }
        }
        if self.source.trim().is_empty() {
            problems.push("`alerts.source`: must not be empty".to_owned());
        }
        if self.dead_letter_threshold == 0 || self.dead_letter_threshold >= 100_000 {
            problems.push(format!(
                "`alerts.dead_letter_threshold`: must be between 1 and 99999, found {}",
                self.dead_letter_threshold
            ));
        }
        if self.check_interval < Duration::from_millis(10) {
            problems.push("`alerts.check_interval`: at least 10 ms".to_owned());
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_classic() {
        let payments = PaymentsSettings::default();
        assert!(payments.problems().is_empty());
        assert_eq!(payments.backend, PaymentsBackend::Sandbox);
        assert_eq!(payments.breaker.failure_threshold, 5);
        assert_eq!(payments.breaker.window, Duration::from_secs(60));
        assert_eq!(payments.breaker.open_duration, Duration::from_secs(30));
        assert_eq!(payments.breaker.half_open_calls, 3);
        assert!(AlertsSettings::default().problems().is_empty());
    }

    #[test]
    fn missing_secrets_are_named() {
        let payments = PaymentsSettings {
            backend: PaymentsBackend::Stripe,
            ..PaymentsSettings::default()
        };
        assert!(payments.problems()[0].contains("payments.stripe.secret_key"));
        let alerts = AlertsSettings {
            backend: AlertsBackend::Pagerduty,
            ..AlertsSettings::default()
        };
        assert!(alerts.problems()[0].contains("alerts.pagerduty.routing_key"));
    }
}
