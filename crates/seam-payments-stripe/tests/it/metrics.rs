//! Every call is recorded as `seam_port_calls_total{port="payments",adapter="stripe",op,outcome}`.

use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seam_domain::{Currency, Money};
use seam_payments::{CreatePayment, IdempotencyKey, PaymentId, PaymentMethod, PaymentService};

use crate::mock_and_adapter;

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
            let (_mock, stripe) = mock_and_adapter().await;
            let request = CreatePayment::new(
                Money::new(700, Currency::parse("EUR").unwrap()),
                PaymentMethod::card("tok_visa").unwrap(),
                IdempotencyKey::generate(),
            );
            let payment = stripe.create(&request).await.unwrap();
            stripe.get(&payment.id).await.unwrap();
            stripe
                .get(&PaymentId::new("pi_nope").unwrap())
                .await
                .unwrap_err();
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let counted = |op: &str, outcome: &str| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                key.kind() == MetricKind::Counter
                    && key.key().name() == "seam_port_calls_total"
                    && [
                        ("port", "payments"),
                        ("adapter", "stripe"),
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
    assert_eq!(counted("create", "ok"), 1);
    assert_eq!(counted("get", "ok"), 1);
    assert_eq!(counted("get", "not_found"), 1);
}
