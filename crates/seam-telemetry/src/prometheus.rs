//! The process-wide Prometheus recorder and the `GET /metrics` route.

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets for every `*_seconds` metric: 1 ms to 30 s, dense where calls to
/// remote services usually land.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often idle histograms are drained when nobody scrapes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus handle, installing the global `metrics` recorder on first use.
///
/// If another global recorder was installed first (a test harness, say), the handle is
/// for a recorder that receives nothing, and a warning is logged: metrics never make a
/// service fail.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)
                .expect("the bucket list is a non-empty constant");
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if let Err(error) = metrics::set_global_recorder(recorder) {
                tracing::warn!(error.message = %error, "a metrics recorder was already installed; /metrics will be empty");
            }
            let upkeep = handle.clone();
            // Upkeep drains histogram buffers; a thread keeps memory flat even when no
            // one scrapes, and needs no async runtime.
            let spawned = std::thread::Builder::new()
                .name("prometheus-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(error) = spawned {
                tracing::warn!(error.message = %error, "could not start the metrics upkeep thread");
            }
            handle
        })
        .clone()
}

/// A router serving `GET /metrics` in the Prometheus text format.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let handle = handle();
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    )
}
