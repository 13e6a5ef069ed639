use axum::body::Body;
use http::{Request, StatusCode};
use seam_core::ErrorKind;
use seam_telemetry::{Outcome, PortMetrics};
use tower::ServiceExt;

#[tokio::test]
async fn metrics_route_renders_port_metrics_as_prometheus_text() {
    // Installs the global recorder before anything is recorded.
    let _ = seam_telemetry::prometheus::handle();
    PortMetrics::new("cache", "redis").record("get", Outcome::Failed(ErrorKind::Timeout), 0.02);

    let response = seam_telemetry::prometheus::router::<()>()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(
            r#"seam_port_calls_total{port="cache",adapter="redis",op="get",outcome="timeout"} 1"#
        ),
        "{text}"
    );
    // `_seconds` metrics are histograms with the configured buckets, not summaries.
    assert!(
        text.contains(r#"seam_port_call_seconds_bucket{port="cache",adapter="redis",op="get",outcome="timeout",le="0.025"} 1"#),
        "{text}"
    );
}
