//! The received / verified / rejected counters.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::{CompositeKey, MetricKind};
use seam_webhooks::{
    GithubVerifier, RECEIVED_TOTAL, REJECTED_TOTAL, VERIFIED_TOTAL, sign, verify_and_record,
};

use crate::support::{headers, secrets};

fn counter(
    snapshot: &[(
        CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    )],
    name: &str,
    labels: &[(&str, &str)],
) -> u64 {
    snapshot
        .iter()
        .filter(|(key, ..)| key.kind() == MetricKind::Counter && key.key().name() == name)
        .filter(|(key, ..)| {
            labels.iter().all(|(label, value)| {
                key.key()
                    .labels()
                    .any(|l| l.key() == *label && l.value() == *value)
            })
        })
        .map(|(.., value)| match value {
            DebugValue::Counter(count) => *count,
            _ => 0,
        })
        .sum()
}

#[test]
fn every_request_is_counted_with_its_outcome() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let verifier = GithubVerifier::new(secrets(&["s3cret"])).unwrap();
    let good = sign::github(&secrets(&["s3cret"])[0], b"{}").unwrap();
    metrics::with_local_recorder(&recorder, || {
        let signed = headers(&[("x-hub-signature-256", &good)]);
        assert!(verify_and_record(&verifier, &signed, b"{}").is_ok());
        assert!(verify_and_record(&verifier, &signed, b"{ }").is_err());
        assert!(verify_and_record(&verifier, &headers(&[]), b"{}").is_err());
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let github = [("provider", "github")];
    assert_eq!(counter(&snapshot, RECEIVED_TOTAL, &github), 3);
    assert_eq!(counter(&snapshot, VERIFIED_TOTAL, &github), 1);
    assert_eq!(counter(&snapshot, REJECTED_TOTAL, &github), 2);
    assert_eq!(
        counter(
            &snapshot,
            REJECTED_TOTAL,
            &[("provider", "github"), ("reason", "no_matching_signature")]
        ),
        1
    );
    assert_eq!(
        counter(
            &snapshot,
            REJECTED_TOTAL,
            &[("provider", "github"), ("reason", "missing_header")]
        ),
        1
    );
}
