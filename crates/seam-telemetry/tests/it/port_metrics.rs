use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seam_core::ErrorKind;
use seam_telemetry::PortMetrics;

const METRICS: PortMetrics = PortMetrics::new("email", "smtp");

fn labels_of(key: &metrics::Key) -> Vec<(String, String)> {
    let mut labels: Vec<_> = key
        .labels()
        .map(|label| (label.key().to_owned(), label.value().to_owned()))
        .collect();
    labels.sort();
    labels
}

#[test]
fn records_calls_and_seconds_with_outcome_labels() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let ok: Result<u8, ErrorKind> = METRICS.call("send", async { Ok(1) }).await;
            assert_eq!(ok, Ok(1));
            let failed: Result<u8, ErrorKind> = METRICS
                .call("send", async { Err(ErrorKind::Transient) })
                .await;
            assert_eq!(failed, Err(ErrorKind::Transient));
            let _: Result<u8, ErrorKind> = METRICS.call("send", async { Ok(2) }).await;
        });
    });

    let mut counters = Vec::new();
    let mut histograms = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name().to_owned();
        let labels = labels_of(key.key());
        match value {
            DebugValue::Counter(n) => counters.push((name, labels, n)),
            DebugValue::Histogram(values) => histograms.push((name, labels, values.len())),
            DebugValue::Gauge(_) => {}
        }
    }
    counters.sort();
    histograms.sort();

    let expect_labels = |outcome: &str| {
        vec![
            ("adapter".to_owned(), "smtp".to_owned()),
            ("op".to_owned(), "send".to_owned()),
            ("outcome".to_owned(), outcome.to_owned()),
            ("port".to_owned(), "email".to_owned()),
        ]
    };
    assert_eq!(
        counters,
        vec![
            ("seam_port_calls_total".to_owned(), expect_labels("ok"), 2),
            (
                "seam_port_calls_total".to_owned(),
                expect_labels("transient"),
                1
            ),
        ]
    );
    assert_eq!(
        histograms,
        vec![
            ("seam_port_call_seconds".to_owned(), expect_labels("ok"), 2),
            (
                "seam_port_call_seconds".to_owned(),
                expect_labels("transient"),
                1
            ),
        ]
    );
}
