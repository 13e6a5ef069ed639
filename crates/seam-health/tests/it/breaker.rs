//! A circuit breaker is one more dependency in the registry: its state shows in /health.

use std::sync::Arc;

use seam_core::{HealthStatus, ManualClock};
use seam_health::{CheckOptions, HealthConfig, HealthRegistry};
use seam_resilience::{CircuitBreaker, CircuitBreakerConfig};

#[tokio::test]
async fn breaker_state_is_part_of_health() {
    let clock = ManualClock::new();
    let registry = HealthRegistry::new(HealthConfig::default(), clock.shared());
    let breaker = Arc::new(
        CircuitBreaker::new("payments", &CircuitBreakerConfig::default(), clock.shared())
            .expect("the default breaker config is valid"),
    );
    // An open breaker means the upstream is failing; the service itself can still
    // answer, so it is registered as non-critical.
    registry.register_with(breaker.clone(), CheckOptions::non_critical());

    registry.check_all().await;
    assert_eq!(
        registry.report().check("breaker:payments").unwrap().status,
        HealthStatus::Up
    );

    breaker.force_open();
    registry.check_all().await;
    let report = registry.report();
    let check = report.check("breaker:payments").unwrap();
    assert_eq!(check.status, HealthStatus::Down);
    assert_eq!(
        check.detail.as_deref(),
        Some("circuit forced open by an operator: calls rejected")
    );
    assert_eq!(report.status, HealthStatus::Degraded);
    assert!(registry.is_ready());

    breaker.reset();
    registry.check_all().await;
    assert_eq!(registry.report().status, HealthStatus::Up);
}
