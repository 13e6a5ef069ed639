use seam_payments::conformance::{Fixtures, run_all};
use seam_payments::{InMemoryPayments, PaymentMethod};

pub(crate) fn fixtures() -> Fixtures {
    Fixtures::new(
        PaymentMethod::card("tok_ok").unwrap(),
        PaymentMethod::card("tok_declined").unwrap(),
        "generic_decline",
    )
    .with_requires_action(PaymentMethod::card("tok_3ds").unwrap())
}

pub(crate) fn memory() -> InMemoryPayments {
    InMemoryPayments::new()
        .with_declining_token("tok_declined", "generic_decline")
        .with_action_required_token("tok_3ds")
}

#[tokio::test]
async fn memory_adapter_passes_the_conformance_suite() {
    run_all(&memory(), &fixtures()).await;
}
