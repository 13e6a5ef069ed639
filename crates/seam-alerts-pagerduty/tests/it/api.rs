//! The exact events sent, and how each answer maps to the port's error.

use std::time::Duration;

use seam_alerts::{Alert, AlertService, Error, Severity};
use seam_alerts_pagerduty::{ENQUEUE_PATH, PagerDutyConfig};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{ROUTING_KEY, adapter};

fn accepted(dedup_key: &str) -> ResponseTemplate {
    ResponseTemplate::new(202).set_body_json(
        json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
    )
}

fn full_alert() -> Alert {
    Alert::new(
        "breaker:payments",
        Severity::Critical,
        "circuit breaker `payments` opened (failure_count)",
        "seam-api@host-1",
    )
    .with_component("payments")
    .with_detail("failures", 5)
    .with_detail("reason", "failure_count")
    .with_timestamp(chrono::DateTime::from_timestamp_millis(1_767_322_800_250).unwrap())
}

#[tokio::test]
async fn trigger_sends_the_exact_event() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENQUEUE_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "breaker:payments",
            "payload": {
                "summary": "circuit breaker `payments` opened (failure_count)",
                "source": "seam-api@host-1",
                "severity": "critical",
                "component": "payments",
                "custom_details": {"failures": 5, "reason": "failure_count"},
                "timestamp": "2026-01-02T03:00:00.250Z"
            }
        })))
        .respond_with(accepted("breaker:payments"))
        .expect(1)
        .mount(&server)
        .await;
    adapter(&server).trigger(&full_alert()).await.unwrap();
    let request = &server.received_requests().await.unwrap()[0];
    let agent = request.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("seam-alerts-pagerduty/"), "{agent}");
    assert!(request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_minimal_trigger_leaves_optional_fields_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENQUEUE_PATH))
        .and(body_json(json!({
            "routing_key": ROUTING_KEY,
            "event_action": "trigger",
            "dedup_key": "dlq:orders",
            "payload": {
                "summary": "dead-letter queue above 100",
                "source": "order-worker",
                "severity": "warning"
            }
        })))
        .respond_with(accepted("dlq:orders"))
        .expect(1)
        .mount(&server)
        .await;
    let alert = Alert::new(
        "dlq:orders",
        Severity::Warning,
        "dead-letter queue above 100",
        "order-worker",
    );
    adapter(&server).trigger(&alert).await.unwrap();
}

#[tokio::test]
async fn acknowledge_and_resolve_send_only_the_key() {
    let server = MockServer::start().await;
    for action in ["acknowledge", "resolve"] {
        Mock::given(method("POST"))
            .and(path(ENQUEUE_PATH))
            .and(header("content-type", "application/json"))
            .and(body_json(json!({
                "routing_key": ROUTING_KEY,
                "event_action": action,
                "dedup_key": "health:postgres"
            })))
            .respond_with(accepted("health:postgres"))
            .expect(1)
            .mount(&server)
            .await;
    }
    let pagerduty = adapter(&server);
    pagerduty.acknowledge("health:postgres").await.unwrap();
    pagerduty.resolve("health:postgres").await.unwrap();
}

async fn answer(template: ResponseTemplate) -> Error {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENQUEUE_PATH))
        .respond_with(template)
        .mount(&server)
        .await;
    adapter(&server).trigger(&full_alert()).await.unwrap_err()
}

#[tokio::test]
async fn a_refused_event_is_invalid_with_pagerdutys_reason() {
    let error = answer(ResponseTemplate::new(400).set_body_json(json!({
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]
    })))
    .await;
    assert!(matches!(error, Error::Invalid(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("Event object is invalid") && text.contains("routing_key"),
        "{text}"
    );
    assert!(!text.contains(ROUTING_KEY), "the key leaked: {text}");
}

#[tokio::test]
async fn rate_limiting_carries_retry_after() {
    let error = answer(ResponseTemplate::new(429).insert_header("Retry-After", "7")).await;
    assert!(
        matches!(error, Error::RateLimited { retry_after: Some(wait) } if wait == Duration::from_secs(7)),
        "{error:?}"
    );
    let error = answer(ResponseTemplate::new(429)).await;
    assert!(
        matches!(error, Error::RateLimited { retry_after: None }),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_are_transient_and_credentials_unauthorized() {
    for status in [500, 502, 503, 504] {
        let error = answer(ResponseTemplate::new(status)).await;
        assert!(
            matches!(error, Error::Transient { .. }),
            "{status}: {error:?}"
        );
    }
    for status in [401, 403] {
        let error = answer(ResponseTemplate::new(status)).await;
        assert!(
            matches!(error, Error::Unauthorized(_)),
            "{status}: {error:?}"
        );
    }
    let error = answer(ResponseTemplate::new(404)).await;
    assert!(matches!(error, Error::Permanent(_)), "{error:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_transient_and_a_slow_one_a_timeout() {
    // A port that was just free: nothing listens there (wiremock keeps its servers
    // alive in a pool, so a dropped mock server would still answer).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = PagerDutyConfig {
        base_url: format!("http://127.0.0.1:{port}"),
        ..PagerDutyConfig::new(ROUTING_KEY.into())
    }
    .build()
    .unwrap();
    let error = gone.resolve("breaker:payments").await.unwrap_err();
    assert!(matches!(error, Error::Transient { .. }), "{error:?}");

    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(accepted("k").set_delay(Duration::from_secs(30)))
        .mount(&slow)
        .await;
    let pagerduty = PagerDutyConfig {
        base_url: slow.uri(),
        timeout: Duration::from_millis(200),
        ..PagerDutyConfig::new(ROUTING_KEY.into())
    }
    .build()
    .unwrap();
    let error = pagerduty.resolve("k").await.unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
}

#[test]
fn configuration_is_validated_with_clear_messages() {
    let config: PagerDutyConfig = toml::from_str(&format!(
        "routing_key = \"{ROUTING_KEY}\"\ntimeout = \"3s\""
    ))
    .unwrap();
    assert_eq!(config.base_url, "https://events.pagerduty.com");
    assert_eq!(config.timeout, Duration::from_secs(3));
    assert!(!format!("{config:?}").contains(ROUTING_KEY));
    let pagerduty = config.clone().build().unwrap();
    assert!(!format!("{pagerduty:?}").contains(ROUTING_KEY));
    for (change, says) in [
        (PagerDutyConfig::new("short".into()), "routing_key"),
        (PagerDutyConfig::new("".into()), "routing_key"),
        (
            PagerDutyConfig {
                base_url: "http://events.pagerduty.com".into(),
                ..config.clone()
            },
            "in clear",
        ),
        (
            PagerDutyConfig {
                base_url: "events.pagerduty.com".into(),
                ..config.clone()
            },
            "base_url",
        ),
        (
            PagerDutyConfig {
                timeout: Duration::ZERO,
                ..config.clone()
            },
            "timeout",
        ),
    ] {
        let error = change.build().unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error:?}");
        assert!(error.to_string().contains(says), "{error}");
    }
}
