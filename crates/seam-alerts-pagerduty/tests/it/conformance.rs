//! The port's conformance suite, reading back the events the mock API captured.

use async_trait::async_trait;
use seam_alerts::conformance::{self, DeliveryLog};
use seam_alerts::{Alert, AlertCall, Severity};
use seam_alerts_pagerduty::ENQUEUE_PATH;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{ROUTING_KEY, adapter};

/// What PagerDuty received, read from the JSON events it was sent.
struct CapturedEvents<'a> {
    server: &'a MockServer,
}

fn severity(text: &str) -> Severity {
    serde_json::from_value(Value::String(text.to_owned())).expect("a known severity")
}

/// The port's call an Events API v2 event stands for.
fn call(event: &Value) -> AlertCall {
    assert_eq!(
        event["routing_key"], ROUTING_KEY,
        "every event carries the routing key"
    );
    let key = event["dedup_key"].as_str().expect("a dedup_key").to_owned();
    match event["event_action"].as_str() {
        Some("trigger") => {
            let payload = &event["payload"];
            let text = |name: &str| payload[name].as_str().map(str::to_owned);
            AlertCall::Trigger(Alert {
                dedup_key: key,
                severity: severity(payload["severity"].as_str().unwrap()),
                summary: text("summary").unwrap(),
                source: text("source").unwrap(),
                component: text("component"),
                details: payload["custom_details"]
                    .as_object()
                    .map(|details| details.clone().into_iter().collect())
                    .unwrap_or_default(),
                timestamp: text("timestamp").map(|at| at.parse().unwrap()),
            })
        }
        Some("acknowledge") => AlertCall::Acknowledge(key),
        Some("resolve") => AlertCall::Resolve(key),
        other => panic!("unknown event_action {other:?}"),
    }
}

#[async_trait]
impl DeliveryLog for CapturedEvents<'_> {
    async fn delivered(&self, dedup_key: &str) -> Vec<AlertCall> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == ENQUEUE_PATH)
            .map(|request| call(&serde_json::from_slice(&request.body).unwrap()))
            .filter(|call| call.dedup_key() == dedup_key)
            .collect()
    }
}

#[tokio::test]
async fn pagerduty_adapter_passes_the_conformance_suite_against_a_mock_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENQUEUE_PATH))
        .and(header("content-type", "application/json"))
        .respond_with(
            ResponseTemplate::new(202)
                .set_body_json(json!({"status": "success", "message": "Event processed"})),
        )
        .mount(&server)
        .await;
    conformance::run_all(&adapter(&server), &CapturedEvents { server: &server }).await;
}
