//! A real circuit breaker driven by a manual clock, alerting through the in-memory adapter.

use std::sync::Arc;
use std::time::Duration;

use seam_alerts::breaker::{BreakerAlert, BreakerAlerts};
use seam_alerts::{AlertCall, Error, InMemoryAlerts, IncidentState, Severity};
use seam_core::{ErrorKind, ManualClock};
use seam_resilience::{CircuitBreaker, CircuitBreakerConfig, CircuitState, Outcome};

/// The classic guide's breaker: open after 5 failures within 60 s, half-open after
/// 30 s, 3 trial calls.
fn breaker(name: &str, clock: &ManualClock) -> CircuitBreaker {
    let config = CircuitBreakerConfig {
        failure_count_threshold: Some(5),
        window: Duration::from_secs(60),
        open_duration: Duration::from_secs(30),
        half_open_max_calls: 3,
        ..CircuitBreakerConfig::default()
    };
    CircuitBreaker::new(name, &config, clock.shared()).unwrap()
}

fn call(breaker: &CircuitBreaker, outcome: Outcome) -> bool {
    match breaker.try_acquire() {
        Ok(permit) => {
            permit.finish(outcome);
            true
        }
        Err(_) => false,
    }
}

const FAILURE: Outcome = Outcome::Failure;

#[tokio::test]
async fn opening_pages_once_and_closing_resolves() {
    let clock = ManualClock::new();
    let breaker = breaker("payments", &clock);
    let alerts = Arc::new(InMemoryAlerts::new());
    let forwarding = BreakerAlerts::new(alerts.clone(), "seam-api").attach(&breaker);

    for _ in 0..4 {
        assert!(call(&breaker, Outcome::from_kind(ErrorKind::Transient)));
    }
    forwarding.flush().await;
    assert!(
        alerts.calls().is_empty(),
        "4 failures: still closed, nobody paged"
    );

    assert!(call(&breaker, FAILURE));
    assert_eq!(breaker.state(), CircuitState::Open);
    // While open, calls fail fast and nothing more is sent.
    for _ in 0..10 {
        assert!(!call(&breaker, Outcome::Success));
    }
    forwarding.flush().await;
    let incident = alerts
        .incident("breaker:payments")
        .expect("an alert was triggered");
    assert_eq!(incident.state, IncidentState::Triggered);
    assert_eq!(incident.triggers, 1);
    let alert = &incident.alert;
    assert_eq!(alert.severity, Severity::Critical);
    assert_eq!(alert.source, "seam-api");
    assert_eq!(alert.component.as_deref(), Some("payments"));
    assert_eq!(alert.details["reason"], "failure_count");
    assert_eq!(alert.details["to"], "open");
    assert!(
        alert.summary.contains("`payments` opened"),
        "{}",
        alert.summary
    );
    assert!(alert.timestamp.is_some());

    // After the wait, a failed trial re-opens it: the same incident, not a second page.
    clock.advance(Duration::from_secs(30));
    assert!(call(&breaker, FAILURE));
    assert_eq!(breaker.state(), CircuitState::Open);
    forwarding.flush().await;
    assert_eq!(alerts.incidents().len(), 1);
    assert_eq!(alerts.incident("breaker:payments").unwrap().triggers, 2);

    // After the next wait, the trial calls succeed: closed, and the alert resolved.
    clock.advance(Duration::from_secs(30));
    for _ in 0..3 {
        assert!(call(&breaker, Outcome::Success));
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    forwarding.flush().await;
    assert_eq!(
        alerts.incident("breaker:payments").unwrap().state,
        IncidentState::Resolved
    );
    assert!(alerts.open_incidents().is_empty());
    let kinds: Vec<&str> = alerts
        .calls()
        .iter()
        .map(|call| match call {
            AlertCall::Trigger(_) => "trigger",
            AlertCall::Acknowledge(_) => "acknowledge",
            AlertCall::Resolve(_) => "resolve",
        })
        .collect();
    assert_eq!(kinds, ["trigger", "trigger", "resolve"]);
}

#[tokio::test]
async fn operator_actions_warn_and_resolve() {
    let clock = ManualClock::new();
    let breaker = breaker("geo", &clock);
    let alerts = Arc::new(InMemoryAlerts::new());
    let forwarding = BreakerAlerts::new(alerts.clone(), "worker")
        .with_severity(Severity::Error)
        .attach(&breaker);
    breaker.force_open();
    forwarding.flush().await;
    let incident = alerts.incident("breaker:geo").unwrap();
    assert_eq!(incident.alert.severity, Severity::Warning);
    assert_eq!(incident.alert.details["reason"], "forced");
    breaker.reset();
    forwarding.flush().await;
    assert_eq!(
        alerts.incident("breaker:geo").unwrap().state,
        IncidentState::Resolved
    );
    // An automatic opening uses the configured severity.
    for _ in 0..5 {
        call(&breaker, FAILURE);
    }
    forwarding.flush().await;
    assert_eq!(
        alerts.incident("breaker:geo").unwrap().alert.severity,
        Severity::Error
    );
}

#[tokio::test]
async fn a_failed_alert_does_not_stop_forwarding() {
    let clock = ManualClock::new();
    let breaker = breaker("search", &clock);
    let alerts = Arc::new(InMemoryAlerts::new());
    let forwarding = BreakerAlerts::new(alerts.clone(), "api").attach(&breaker);
    alerts.fail_next(Error::transient("pager down"));
    breaker.force_open();
    breaker.reset();
    breaker.force_open();
    forwarding.flush().await;
    // The first trigger failed; the resolve found nothing open; the second trigger paged.
    assert_eq!(alerts.incidents().len(), 1);
    assert!(alerts.incident("breaker:search").unwrap().state.is_open());
}

#[test]
fn half_open_asks_for_nothing() {
    let alerts = Arc::new(InMemoryAlerts::new());
    let mapper = BreakerAlerts::new(alerts, "api");
    let event = seam_resilience::BreakerEvent {
        breaker: "x".into(),
        from: CircuitState::Open,
        to: CircuitState::HalfOpen,
        reason: seam_resilience::TransitionReason::OpenDurationElapsed,
        at: std::time::SystemTime::UNIX_EPOCH,
    };
    assert_eq!(mapper.action_for(&event), None);
    let closed = seam_resilience::BreakerEvent {
        to: CircuitState::Closed,
        ..event
    };
    assert_eq!(
        mapper.action_for(&closed),
        Some(BreakerAlert::Resolve("breaker:x".into()))
    );
}
