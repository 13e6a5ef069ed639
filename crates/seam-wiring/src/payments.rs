//! `[payments]` to the payment port behind its circuit breaker, and the payment use
//! case.
//!
//! - The provider (`sandbox` | `stripe` | `memory`) is wrapped in
//!   [`ResilientPayments`]: retry of transient failures only, with the same idempotency
//!   key, then the classic breaker (`[payments.breaker]`: 5 failures within 60 s open it,
//!   half-open after 30 s, 3 trial calls).
//! - The breaker is registered in the health registry as `breaker:payments`
//!   (non-critical: an open breaker degrades the service, it does not take it out of
//!   rotation), and its open/close events page through the alerts port
//!   (`breaker:payments`, resolved when it closes).
//! - While the breaker is open, calls fail fast with `Unavailable` and a retry-after;
//!   the API answers `503` + `Retry-After` and the order stays payable.
//! - The sandbox posts its Stripe-signed events to `payments.sandbox.webhook_url` (the
//!   API's own `/webhooks/stripe`) with the first `[webhooks.stripe]` secret, when both
//!   are configured; otherwise it sends none.

use std::sync::Arc;
use std::time::Duration;

use seam_alerts::AlertService;
use seam_alerts::breaker::{BreakerAlertTask, BreakerAlerts};
use seam_config::{PaymentsBackend, PaymentsSettings, Settings};
use seam_core::{ExposeSecret, SecretString, SharedClock};
use seam_health::{CheckOptions, HealthRegistry};
use seam_orders::payments::Payments;
use seam_payments::{InMemoryPayments, PaymentService, ResilientPayments};
use seam_payments_sandbox::SandboxConfig;
use seam_payments_stripe::StripeConfig;
use seam_repository::{OrderPaymentRepository, OrderRepository};
use seam_resilience::{CircuitBreaker, CircuitBreakerConfig, ResilienceConfig, RetryConfig};

use crate::StartupError;

fn adapter_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

/// The resilience policies `[payments]` describes: retry of transient kinds
/// (`retry_attempts`, 200 ms to 2 s backoff) and the breaker of `[payments.breaker]`.
pub fn resilience_config(settings: &PaymentsSettings) -> ResilienceConfig {
    let breaker = &settings.breaker;
    ResilienceConfig {
        retry: RetryConfig {
            enabled: settings.retry_attempts > 1,
            max_attempts: settings.retry_attempts.max(1),
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
            ..RetryConfig::default()
        },
        circuit_breaker: CircuitBreakerConfig {
            window: breaker.window,
            failure_count_threshold: Some(breaker.failure_threshold),
            open_duration: breaker.open_duration,
            half_open_max_calls: breaker.half_open_calls,
            ..CircuitBreakerConfig::default()
        },
        ..ResilienceConfig::default()
    }
}

/// The configured provider, unwrapped, with its name (`sandbox`, `stripe`, `memory`).
///
/// # Errors
///
/// [`StartupError::Adapter`] for a provider configuration its adapter refuses.
pub fn provider(
    settings: &Settings,
) -> Result<(Arc<dyn PaymentService>, &'static str), StartupError> {
    let payments = &settings.payments;
    Ok(match payments.backend {
        PaymentsBackend::Memory => (Arc::new(InMemoryPayments::new()), "memory"),
        PaymentsBackend::Stripe => {
            let key = payments
                .stripe
                .secret_key
                .clone()
                .ok_or_else(|| adapter_error("payments.stripe", "`secret_key` is required"))?;
            let mut config = StripeConfig::new(key);
            config.base_url.clone_from(&payments.stripe.base_url);
            config.timeout = payments.stripe.timeout;
            let stripe = config
                .build()
                .map_err(|error| adapter_error("payments.stripe", error))?;
            (Arc::new(stripe), "stripe")
        }
        PaymentsBackend::Sandbox => {
            let url = payments.sandbox.webhook_url.trim();
            let secret = settings
                .webhooks
                .stripe
                .as_ref()
                .and_then(|endpoint| endpoint.secrets.first())
                .map(|secret| SecretString::from(secret.expose_secret().to_owned()));
            let config = match (url.is_empty(), secret) {
                (false, Some(secret)) => SandboxConfig {
                    webhook_secret: Some(secret),
                    webhook_url: Some(url.to_owned()),
                },
                _ => {
                    tracing::info!(
                        "the payment sandbox sends no events: set payments.sandbox.webhook_url and [webhooks.stripe] secrets"
                    );
                    SandboxConfig::default()
                }
            };
            let sandbox = config
                .build()
                .map_err(|error| adapter_error("payments.sandbox", error))?;
            (Arc::new(sandbox), "sandbox")
        }
    })
}

/// Orders' payment records in the service's database (migration 0007).
///
/// # Errors
///
/// [`StartupError::Adapter`] when the repositories cannot be built over the database.
pub fn order_payments(
    database: &seam_sql::Database,
) -> Result<Arc<dyn OrderPaymentRepository>, StartupError> {
    seam_repository_sql::SqlRepositories::new(database)
        .map(|repositories| repositories.order_payments())
        .map_err(|error| adapter_error("payments repository", error))
}

/// The payment port behind its breaker, and the payment use case.
#[derive(Debug)]
pub struct PaymentComponents {
    /// The provider behind retry and the breaker.
    pub provider: Arc<dyn PaymentService>,
    /// The breaker (`breaker:payments`).
    pub breaker: Option<CircuitBreaker>,
    /// The use case: pay, refund, apply webhook events.
    pub payments: Payments,
    /// Forwards breaker events to the alerts port while it lives.
    pub breaker_alerts: Option<BreakerAlertTask>,
}

impl PaymentComponents {
    /// Wraps `provider` (named `provider_name`) in the policies of `[payments]`,
    /// registers its breaker in `health` and pages its open/close through `alerts`.
    /// Must run inside a Tokio runtime (the alert forwarding is a task).
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] for breaker settings the resilience policies refuse.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        settings: &Settings,
        provider: Arc<dyn PaymentService>,
        provider_name: &str,
        orders: Arc<dyn OrderRepository>,
        records: Arc<dyn OrderPaymentRepository>,
        alerts: Arc<dyn AlertService>,
        health: &HealthRegistry,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        let resilient = ResilientPayments::from_config(
            provider,
            &resilience_config(&settings.payments),
            clock.clone(),
        )
        .map_err(|error| adapter_error("payments.breaker", error))?;
        let breaker = resilient.breaker().cloned();
        let breaker_alerts = breaker.as_ref().map(|breaker| {
            health.register_with(Arc::new(breaker.clone()), CheckOptions::non_critical());
            BreakerAlerts::new(alerts.clone(), settings.alerts.source.clone()).attach(breaker)
        });
        let provider: Arc<dyn PaymentService> = Arc::new(resilient);
        let payments = Payments::new(
            orders,
            records,
            provider.clone(),
            provider_name,
            alerts,
            settings.alerts.source.clone(),
            clock,
        );
        Ok(Self {
            provider,
            breaker,
            payments,
            breaker_alerts,
        })
    }

    /// [`assemble`](Self::assemble) over the provider `[payments]` configures.
    ///
    /// # Errors
    ///
    /// As [`provider`] and [`assemble`](Self::assemble).
    pub fn build(
        settings: &Settings,
        orders: Arc<dyn OrderRepository>,
        records: Arc<dyn OrderPaymentRepository>,
        alerts: Arc<dyn AlertService>,
        health: &HealthRegistry,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        let (raw, name) = provider(settings)?;
        Self::assemble(settings, raw, name, orders, records, alerts, health, clock)
    }
}

#[cfg(test)]
mod tests {
    use seam_config::PaymentsBreakerSettings;

    use super::*;

    #[test]
    fn the_breaker_follows_the_settings() {
        let settings = PaymentsSettings {
            breaker: PaymentsBreakerSettings {
                failure_threshold: 4,
                window: Duration::from_secs(10),
                open_duration: Duration::from_secs(2),
                half_open_calls: 2,
            },
            retry_attempts: 1,
            ..PaymentsSettings::default()
        };
        let config = resilience_config(&settings);
        assert!(config.validate().is_ok());
        assert!(!config.retry.enabled);
        assert_eq!(config.circuit_breaker.failure_count_threshold, Some(4));
        assert_eq!(config.circuit_breaker.open_duration, Duration::from_secs(2));
        assert_eq!(config.circuit_breaker.half_open_max_calls, 2);
        let defaults = resilience_config(&PaymentsSettings::default());
        assert!(defaults.validate().is_ok());
        assert_eq!(defaults.retry.max_attempts, 3);
        assert_eq!(defaults.circuit_breaker.failure_count_threshold, Some(5));
    }

    #[test]
    fn every_backend_builds_from_its_settings() {
        let mut settings = Settings::default();
        assert_eq!(provider(&settings).unwrap().1, "sandbox");
        settings.payments.backend = PaymentsBackend::Memory;
        assert_eq!(provider(&settings).unwrap().1, "memory");
        settings.payments.backend = PaymentsBackend::Stripe;
        assert!(provider(&settings).is_err());
        settings.payments.stripe.secret_key = Some(SecretString::from("sk_test_123".to_owned()));
        assert_eq!(provider(&settings).unwrap().1, "stripe");
    }
}
