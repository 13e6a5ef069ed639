use std::sync::Arc;

use seam_core::{Classify, ErrorKind, ManualClock};
use seam_domain::{Currency, Money};
use seam_payments::{
    BankScheme, CreatePayment, Error, IdempotencyKey, PaymentMethod, PaymentService, PaymentStatus,
    PaymentToken, ResilientPayments,
};
use seam_payments_sandbox::{SandboxConfig, SandboxPayments};
use seam_resilience::CircuitState;

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn pay(minor: i64, token: &str) -> CreatePayment {
    CreatePayment::new(
        eur(minor),
        PaymentMethod::card(token).unwrap(),
        IdempotencyKey::generate(),
    )
}

fn sandbox() -> SandboxPayments {
    SandboxConfig::default().build().unwrap()
}

#[tokio::test]
async fn declines_carry_their_codes() {
    let sandbox = sandbox();
    for (token, code) in [
        ("tok_chargeDeclined", "generic_decline"),
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("tok_chargeDeclinedExpiredCard", "expired_card"),
    ] {
        let error = sandbox.create(&pay(1000, token)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent, "{token}");
        assert_eq!(error.decline_code(), Some(code), "{token}");
    }
}

#[tokio::test]
async fn timeouts_rate_limits_and_transient_amounts() {
    let sandbox = sandbox();
    let error = sandbox.create(&pay(1000, "tok_timeout")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    let error = sandbox
        .create(&pay(1000, "tok_rateLimited"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::RateLimited {
                retry_after: Some(_)
            }
        ),
        "{error:?}"
    );
    let always = pay(1013, "tok_visa");
    for _ in 0..3 {
        assert_eq!(
            sandbox.create(&always).await.unwrap_err().kind(),
            ErrorKind::Transient
        );
    }
    let once = pay(1014, "tok_visa");
    assert_eq!(
        sandbox.create(&once).await.unwrap_err().kind(),
        ErrorKind::Transient
    );
    let payment = sandbox.create(&once).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    // Nothing was created by the failures.
    let other = pay(1014, "tok_visa");
    assert!(
        sandbox.create(&other).await.is_err(),
        "once per key, and this is a new key"
    );
}

#[tokio::test]
async fn requires_action_then_confirm_and_bank_debits_settle() {
    let sandbox = sandbox();
    let payment = sandbox
        .create(&pay(1000, "tok_requires_action"))
        .await
        .unwrap();
    assert_eq!(payment.status, PaymentStatus::RequiresAction);
    let confirmed = sandbox
        .confirm(&payment.id, &IdempotencyKey::generate())
        .await
        .unwrap();
    assert_eq!(confirmed.status, PaymentStatus::Succeeded);

    let debit = CreatePayment::new(
        eur(5000),
        PaymentMethod::BankTransfer {
            scheme: BankScheme::SepaDebit,
            token: PaymentToken::new("pm_sepa_debit").unwrap(),
        },
        IdempotencyKey::generate(),
    );
    let processing = sandbox.create(&debit).await.unwrap();
    assert_eq!(processing.status, PaymentStatus::Processing);
    let settled = sandbox.settle(&processing.id).await.unwrap();
    assert_eq!(settled.status, PaymentStatus::Succeeded);
    assert_eq!(settled.amount_captured, eur(5000));
}

#[tokio::test]
async fn the_breaker_opens_on_amounts_ending_in_13_and_retries_heal_14() {
    let clock = ManualClock::new();
    let sandbox = Arc::new(
        SandboxConfig::default()
            .build()
            .unwrap()
            .with_clock(clock.shared()),
    );
    let payments = ResilientPayments::classic(sandbox.clone(), clock.shared()).unwrap();

    // A 14: the first attempt fails, the retry with the same key succeeds.
    let payment = payments.create(&pay(2014, "tok_visa")).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Succeeded);
    assert_eq!(clock.sleeps().len(), 1);

    // 13s: 3 + 2 attempts fail, the circuit opens, then calls fail fast.
    for _ in 0..2 {
        payments.create(&pay(2013, "tok_visa")).await.unwrap_err();
    }
    let breaker = payments.breaker().unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    let error = payments.create(&pay(2000, "tok_visa")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.retry_after().is_some());

    clock.advance(std::time::Duration::from_secs(30));
    for _ in 0..3 {
        payments.create(&pay(2000, "tok_visa")).await.unwrap();
    }
    assert_eq!(breaker.state(), CircuitState::Closed);
}
