use seam_payments::PaymentMethod;
use seam_payments::conformance::{Fixtures, run_all};

use crate::mock_and_adapter;

#[tokio::test]
async fn stripe_adapter_passes_the_conformance_suite_against_the_mock() {
    let (mock, stripe) = mock_and_adapter().await;
    let fixtures = Fixtures::new(
        PaymentMethod::card("tok_visa").unwrap(),
        PaymentMethod::card("tok_chargeDeclined").unwrap(),
        "generic_decline",
    )
    .with_requires_action(PaymentMethod::card("tok_threeDSecureRequired").unwrap());
    run_all(&stripe, &fixtures).await;
    mock.assert_no_violations();
    let requests = mock.requests();
    assert!(
        requests.len() > 40,
        "the suite talked to the mock: {}",
        requests.len()
    );
    for request in requests.iter().filter(|request| request.method == "POST") {
        assert!(request.header("idempotency-key").is_some(), "{request:?}");
    }
}

#[tokio::test]
async fn pm_ids_and_ids_with_expanded_charges_pass_too() {
    let (mock, stripe) = mock_and_adapter().await;
    let fixtures = Fixtures::new(
        PaymentMethod::card("pm_card_visa").unwrap(),
        PaymentMethod::card("pm_card_chargeDeclinedInsufficientFunds").unwrap(),
        "insufficient_funds",
    );
    run_all(&stripe, &fixtures).await;
    mock.assert_no_violations();
}
