//! Every call is recorded as `seam_port_calls_total{port="alerts",adapter="pagerduty",op,outcome}`.

use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seam_alerts::{Alert, AlertService, Severity};
use seam_alerts_pagerduty::ENQUEUE_PATH;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn calls_are_counted_by_op_and_outcome() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path(ENQUEUE_PATH))
                .and(body_partial_json(
                    serde_json::json!({"event_action": "trigger"}),
                ))
                .respond_with(ResponseTemplate::new(202))
                .mount(&server)
                .await;
            Mock::given(method("POST"))
                .and(path(ENQUEUE_PATH))
                .and(body_partial_json(
                    serde_json::json!({"event_action": "resolve"}),
                ))
                .respond_with(ResponseTemplate::new(429))
                .mount(&server)
                .await;
            let pagerduty = crate::adapter(&server);
            let alert = Alert::new("metrics:test", Severity::Info, "counted", "test");
            pagerduty.trigger(&alert).await.unwrap();
            pagerduty.resolve("metrics:test").await.unwrap_err();
        });
    });
    // One snapshot: taking it resets what it read.
    let snapshot = snapshotter.snapshot().into_vec();
    let counted = |op: &str, outcome: &str| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                key.kind() == MetricKind::Counter
                    && key.key().name() == "seam_port_calls_total"
                    && [
                        ("port", "alerts"),
                        ("adapter", "pagerduty"),
                        ("op", op),
                        ("outcome", outcome),
                    ]
                    .iter()
                    .all(|(name, value)| {
                        key.key()
                            .labels()
                            .any(|label| label.key() == *name && label.value() == *value)
                    })
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(count) => *count,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counted("trigger", "ok"), 1);
    assert_eq!(counted("resolve", "rate_limited"), 1);
}
