use seam_payments::PaymentMethod;
use seam_payments::conformance::{Fixtures, run_all};
use seam_payments_sandbox::{RecordingSink, SandboxConfig};

#[tokio::test]
async fn sandbox_passes_the_conformance_suite() {
    let sink = RecordingSink::new();
    let sandbox = SandboxConfig::default()
        .build()
        .unwrap()
        .with_sink(sink.clone());
    let fixtures = Fixtures::new(
        PaymentMethod::card("tok_visa").unwrap(),
        PaymentMethod::card("tok_chargeDeclined").unwrap(),
        "generic_decline",
    )
    .with_requires_action(PaymentMethod::card("tok_threeDSecureRequired").unwrap());
    run_all(&sandbox, &fixtures).await;
    assert!(
        !sink.events().is_empty(),
        "the suite's payments sent events"
    );
}
