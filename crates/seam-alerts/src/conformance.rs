//! The suite every [`AlertService`] adapter passes (feature `conformance`).
//!
//! Call [`run_all`] from the adapter's integration test with the service and a
//! [`DeliveryLog`] that reads back what reached the upstream: the in-memory calls, the
//! requests a mock HTTP API captured. Every check uses its own dedup keys, so parallel
//! tests and earlier runs never see each other's events.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::memory::AlertCall;
use crate::{Alert, AlertService, Error, InMemoryAlerts, LogAlerts, Severity};

/// Reads back what an adapter delivered to its upstream.
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// The calls that reached the upstream for `dedup_key`, in the order sent. A trigger
    /// is read back as the [`Alert`] the upstream received.
    async fn delivered(&self, dedup_key: &str) -> Vec<AlertCall>;
}

#[async_trait]
impl DeliveryLog for InMemoryAlerts {
    async fn delivered(&self, dedup_key: &str) -> Vec<AlertCall> {
        self.calls_for(dedup_key)
    }
}

#[async_trait]
impl DeliveryLog for LogAlerts {
    async fn delivered(&self, dedup_key: &str) -> Vec<AlertCall> {
        self.incidents().calls_for(dedup_key)
    }
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "conformance:{prefix}:{}:{}:{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fixed, whole-second timestamp: survives any upstream's date format.
fn started() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_322_800, 0).unwrap_or_default()
}

fn full_alert(dedup_key: &str) -> Alert {
    Alert::new(
        dedup_key,
        Severity::Critical,
        "circuit breaker `payments` opened",
        "seam-conformance",
    )
    .with_component("payments")
    .with_detail("breaker", "payments")
    .with_detail("failures", 5)
    .with_detail("nested", json!({"reason": "failure_count", "ok": false}))
    .with_timestamp(started())
}

/// Runs every check of the [`AlertService`] contract.
///
/// # Panics
///
/// When the adapter breaks the contract, with a message naming the broken line.
pub async fn run_all(service: &dyn AlertService, log: &dyn DeliveryLog) {
    trigger_acknowledge_resolve_arrive_unchanged(service, log).await;
    every_severity_arrives(service, log).await;
    repeated_trigger_succeeds(service, log).await;
    acknowledge_and_resolve_without_incident_succeed(service).await;
    resolve_is_idempotent_and_reopens(service, log).await;
    invalid_requests_are_refused_before_sending(service, log).await;
}

/// `trigger`, `acknowledge` and `resolve` reach the upstream in order, the alert with
/// every field unchanged.
pub async fn trigger_acknowledge_resolve_arrive_unchanged(
    service: &dyn AlertService,
    log: &dyn DeliveryLog,
) {
    let key = unique("lifecycle");
    let alert = full_alert(&key);
    service.trigger(&alert).await.expect("trigger MUST succeed");
    service
        .acknowledge(&key)
        .await
        .expect("acknowledge MUST succeed");
    service.resolve(&key).await.expect("resolve MUST succeed");
    assert_eq!(
        log.delivered(&key).await,
        vec![
            AlertCall::Trigger(alert),
            AlertCall::Acknowledge(key.clone()),
            AlertCall::Resolve(key),
        ],
        "trigger, acknowledge and resolve MUST arrive in order, the alert unchanged"
    );
}

/// Each severity arrives as given; a minimal alert (no component, details or
/// timestamp) is accepted.
pub async fn every_severity_arrives(service: &dyn AlertService, log: &dyn DeliveryLog) {
    for severity in [
        Severity::Critical,
        Severity::Error,
        Severity::Warning,
        Severity::Info,
    ] {
        let key = unique(severity.as_str());
        let alert = Alert::new(
            &key,
            severity,
            format!("{severity} alert"),
            "seam-conformance",
        );
        service
            .trigger(&alert)
            .await
            .expect("a minimal alert MUST be accepted");
        assert_eq!(
            log.delivered(&key).await,
            vec![AlertCall::Trigger(alert)],
            "the {severity} alert MUST arrive unchanged"
        );
        service.resolve(&key).await.expect("resolve MUST succeed");
    }
}

/// A second trigger while the incident is open succeeds (it updates the open incident).
pub async fn repeated_trigger_succeeds(service: &dyn AlertService, log: &dyn DeliveryLog) {
    let key = unique("repeat");
    let first = full_alert(&key);
    let second = Alert {
        summary: "circuit breaker `payments` opened again".into(),
        ..first.clone()
    };
    service.trigger(&first).await.expect("trigger MUST succeed");
    service
        .trigger(&second)
        .await
        .expect("a second trigger while open MUST succeed");
    let delivered = log.delivered(&key).await;
    assert!(
        delivered.len() <= 2 && delivered.first() == Some(&AlertCall::Trigger(first)),
        "the first trigger MUST arrive, and at most one event per call: {delivered:?}"
    );
    service.resolve(&key).await.expect("resolve MUST succeed");
}

/// Acknowledge and resolve of a key with no open incident succeed.
pub async fn acknowledge_and_resolve_without_incident_succeed(service: &dyn AlertService) {
    let key = unique("never-triggered");
    service
        .acknowledge(&key)
        .await
        .expect("acknowledge without an open incident MUST succeed");
    service
        .resolve(&key)
        .await
        .expect("resolve without an open incident MUST succeed");
}

/// Resolving twice succeeds, and the key can be triggered again afterwards.
pub async fn resolve_is_idempotent_and_reopens(service: &dyn AlertService, log: &dyn DeliveryLog) {
    let key = unique("reopen");
    let alert = full_alert(&key);
    service.trigger(&alert).await.expect("trigger MUST succeed");
    service.resolve(&key).await.expect("resolve MUST succeed");
    service
        .resolve(&key)
        .await
        .expect("a second resolve MUST succeed");
    service
        .trigger(&alert)
        .await
        .expect("a trigger after resolve MUST succeed");
    let triggers = log
        .delivered(&key)
        .await
        .into_iter()
        .filter(|call| matches!(call, AlertCall::Trigger(_)))
        .count();
    assert_eq!(
        triggers, 2,
        "a trigger after resolve MUST reach the upstream"
    );
    service.resolve(&key).await.expect("resolve MUST succeed");
}

/// Invalid alerts and keys are [`Error::Invalid`], and nothing is sent.
pub async fn invalid_requests_are_refused_before_sending(
    service: &dyn AlertService,
    log: &dyn DeliveryLog,
) {
    let key = unique("invalid");
    let valid = full_alert(&key);
    let too_long = format!("{key}:{}", "k".repeat(crate::MAX_DEDUP_KEY_CHARS));
    let cases = [
        Alert {
            summary: "  ".into(),
            ..valid.clone()
        },
        Alert {
            summary: "s".repeat(crate::MAX_SUMMARY_CHARS + 1),
            ..valid.clone()
        },
        Alert {
            source: String::new(),
            ..valid.clone()
        },
        Alert {
            dedup_key: too_long.clone(),
            ..valid.clone()
        },
        Alert {
            dedup_key: String::new(),
            ..valid.clone()
        },
    ];
    for alert in cases {
        let result = service.trigger(&alert).await;
        assert!(
            matches!(result, Err(Error::Invalid(_))),
            "an invalid alert MUST be Error::Invalid, got {result:?}"
        );
    }
    for key in ["", " ", too_long.as_str()] {
        assert!(
            matches!(service.acknowledge(key).await, Err(Error::Invalid(_))),
            "acknowledge({key:?}) MUST be Error::Invalid"
        );
        assert!(
            matches!(service.resolve(key).await, Err(Error::Invalid(_))),
            "resolve({key:?}) MUST be Error::Invalid"
        );
    }
    assert!(
        log.delivered(&key).await.is_empty() && log.delivered(&too_long).await.is_empty(),
        "an invalid request MUST NOT reach the upstream"
    );
}
