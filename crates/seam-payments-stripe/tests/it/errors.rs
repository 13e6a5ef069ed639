use std::sync::Arc;
use std::time::Duration;

use seam_core::{Classify, ErrorKind, ManualClock};
use seam_domain::{Currency, Money};
use seam_payments::{
    CreatePayment, Error, IdempotencyKey, PaymentId, PaymentMethod, PaymentService, PaymentStatus,
    ResilientPayments,
};
use seam_payments_stripe::StripeConfig;
use seam_resilience::CircuitState;
use seam_testkit::stripe_mock::{ScriptedResponse, StripeMock};

use crate::{adapter_for, mock_and_adapter};

fn pay() -> CreatePayment {
    CreatePayment::new(
        Money::new(2000, Currency::parse("USD").unwrap()),
        PaymentMethod::card("tok_visa").unwrap(),
        IdempotencyKey::generate(),
    )
}

#[tokio::test]
async fn a_402_card_error_is_a_permanent_decline_with_its_code() {
    let (mock, stripe) = mock_and_adapter().await;
    mock.script(ScriptedResponse::card_declined("insufficient_funds"));
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    assert_eq!(error.decline_code(), Some("insufficient_funds"));
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn a_429_is_rate_limited_with_retry_after() {
    let (mock, stripe) = mock_and_adapter().await;
    mock.script(ScriptedResponse::rate_limited(7));
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[tokio::test]
async fn a_500_is_transient_and_the_retry_with_the_same_key_succeeds() {
    let (mock, stripe) = mock_and_adapter().await;
    mock.script(ScriptedResponse::server_error().on("POST", "/v1/payment_intents"));
    let request = pay();
    let error = stripe.create(&request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
    let payment = stripe.create(&request).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    let keys: Vec<_> = mock
        .requests()
        .iter()
        .map(|request| request.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(keys, vec![request.idempotency_key.to_string(); 2]);
}

#[tokio::test]
async fn rejected_keys_are_unauthorized_and_never_shown() {
    let mock = StripeMock::start().await;
    let stripe = StripeConfig {
        secret_key: "sk_test_wrong_key_123".into(),
        base_url: mock.base_url().to_owned(),
        timeout: Duration::from_secs(5),
    }
    .build()
    .unwrap();
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unauthorized);
    assert!(
        !error.to_string().contains("sk_test_wrong_key_123"),
        "{error}"
    );
    assert!(!format!("{stripe:?}").contains("sk_test_wrong_key_123"));
}

#[tokio::test]
async fn idempotency_errors_not_found_and_bad_requests() {
    let (mock, stripe) = mock_and_adapter().await;
    mock.script(ScriptedResponse::stripe_error(
        400,
        "idempotency_error",
        None,
        "Keys for idempotent requests can only be used with the same parameters",
    ));
    let error = stripe.create(&pay()).await.unwrap_err();
    assert!(
        matches!(error, Error::IdempotencyConflict { .. }),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Conflict);

    let error = stripe
        .get(&PaymentId::new("pi_missing").unwrap())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);

    mock.script(ScriptedResponse::stripe_error(
        400,
        "invalid_request_error",
        Some("parameter_invalid_integer"),
        "Invalid integer: x",
    ));
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("Invalid integer"), "{error}");
}

#[tokio::test]
async fn a_slow_stripe_is_a_timeout() {
    let mock = StripeMock::start().await;
    let stripe = adapter_for(&mock, Duration::from_millis(200));
    mock.script(ScriptedResponse::server_error().delayed(Duration::from_secs(30)));
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn an_unreachable_stripe_is_transient() {
    let address = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let stripe = StripeConfig {
        secret_key: "sk_test_x".into(),
        base_url: format!("http://{address}"),
        timeout: Duration::from_secs(5),
    }
    .build()
    .unwrap();
    let error = stripe.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
}

#[tokio::test]
async fn five_500s_open_the_breaker_and_trials_close_it() {
    let (mock, stripe) = mock_and_adapter().await;
    for _ in 0..5 {
        mock.script(ScriptedResponse::server_error());
    }
    let clock = ManualClock::new();
    let payments = ResilientPayments::classic(Arc::new(stripe), clock.shared()).unwrap();
    let breaker = payments.breaker().unwrap().clone();
    // 3 attempts, then 2 more: the fifth 500 opens the circuit.
    payments.create(&pay()).await.unwrap_err();
    let error = payments.create(&pay()).await.unwrap_err();
    assert_eq!(breaker.state(), CircuitState::Open, "{error}");
    assert_eq!(mock.requests().len(), 5);
    let error = payments.create(&pay()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.retry_after().is_some());
    assert_eq!(mock.requests().len(), 5, "fails fast while open");
    clock.advance(Duration::from_secs(30));
    for _ in 0..3 {
        payments.create(&pay()).await.unwrap();
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
    mock.assert_no_violations();
}
