//! The conformance suite every [`PaymentService`] adapter runs: the contract's MUST
//! lines, checked one by one.
//!
//! An adapter's integration test calls [`run_all`] with the service and the adapter's
//! [`Fixtures`]: the payment methods that succeed, decline or need customer action
//! differ per provider (Stripe's `tok_chargeDeclined`, the sandbox's magic tokens, a
//! scripted in-memory token). Every check uses fresh idempotency keys
//! ([`IdempotencyKey::generate`]), so runs never see each other's payments.

use seam_core::{Classify, ErrorKind};
use seam_domain::{Currency, Money};

use crate::PaymentService;
use crate::error::Error;
use crate::status::PaymentStatus;
use crate::types::{
    CaptureMode, CreatePayment, CreateRefund, IdempotencyKey, PaymentId, PaymentMethod,
    RefundReason,
};

/// The provider-specific inputs of the suite.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// The currency payments are made in.
    pub currency: Currency,
    /// A card that is charged without further ado.
    pub succeeding: PaymentMethod,
    /// A card that is declined.
    pub declining: PaymentMethod,
    /// The decline code `declining` produces (`generic_decline`).
    pub decline_code: String,
    /// A card that needs customer action (3-D Secure), when the adapter can simulate one.
    pub requires_action: Option<PaymentMethod>,
    /// The amount of an ordinary payment, in minor units (must be at least 1000).
    pub amount_minor: i64,
}

impl Fixtures {
    /// Fixtures in EUR for 20.00, with the given cards.
    pub fn new(
        succeeding: PaymentMethod,
        declining: PaymentMethod,
        decline_code: impl Into<String>,
    ) -> Self {
        Self {
            currency: Currency::parse("EUR").unwrap_or_else(|_| unreachable!("EUR is ISO 4217")),
            succeeding,
            declining,
            decline_code: decline_code.into(),
            requires_action: None,
            amount_minor: 2000,
        }
    }

    /// Adds a card that needs customer action.
    pub fn with_requires_action(mut self, method: PaymentMethod) -> Self {
        self.requires_action = Some(method);
        self
    }

    fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency)
    }

    fn payment(&self, minor: i64) -> CreatePayment {
        CreatePayment::new(
            self.money(minor),
            self.succeeding.clone(),
            IdempotencyKey::generate(),
        )
    }
}

fn key() -> IdempotencyKey {
    IdempotencyKey::generate()
}

fn expect_kind<T: std::fmt::Debug>(result: crate::Result<T>, kind: ErrorKind, what: &str) -> Error {
    match result {
        Ok(value) => panic!("{what}: expected a {kind} error, got {value:?}"),
        Err(error) => {
            assert_eq!(error.kind(), kind, "{what}: wrong kind for {error}");
            error
        }
    }
}

/// Runs every check.
pub async fn run_all(service: &dyn PaymentService, fixtures: &Fixtures) {
    create_automatic_capture_succeeds(service, fixtures).await;
    create_is_idempotent(service, fixtures).await;
    idempotency_key_is_scoped_to_one_request(service, fixtures).await;
    invalid_requests_are_refused(service, fixtures).await;
    get_unknown_is_not_found(service, fixtures).await;
    manual_capture_partial(service, fixtures).await;
    capture_rules(service, fixtures).await;
    cancel_rules(service, fixtures).await;
    confirm_later(service, fixtures).await;
    partial_refunds_up_to_captured(service, fixtures).await;
    full_refund(service, fixtures).await;
    refund_rules(service, fixtures).await;
    decline_is_permanent_and_recorded(service, fixtures).await;
    if fixtures.requires_action.is_some() {
        requires_action(service, fixtures).await;
    }
}

/// `create` with automatic capture answers `succeeded`, and `get` agrees.
pub async fn create_automatic_capture_succeeds(service: &dyn PaymentService, fixtures: &Fixtures) {
    let request = fixtures
        .payment(fixtures.amount_minor)
        .with_order_reference("order-conformance-1")
        .with_metadata("channel", "web")
        .with_description("conformance: automatic capture");
    let payment = service.create(&request).await.expect("create");
    assert_eq!(payment.status, PaymentStatus::Succeeded, "{payment:?}");
    assert_eq!(payment.amount, request.amount);
    assert_eq!(payment.amount_captured, request.amount);
    assert_eq!(payment.amount_refunded.minor(), 0);
    assert_eq!(payment.capture, CaptureMode::Automatic);
    assert!(payment.failure.is_none());
    assert_eq!(payment.order_reference(), Some("order-conformance-1"));
    assert_eq!(
        payment.metadata.get("channel").map(String::as_str),
        Some("web")
    );

    let fetched = service.get(&payment.id).await.expect("get");
    assert_eq!(fetched.id, payment.id);
    assert_eq!(fetched.status, PaymentStatus::Succeeded);
    assert_eq!(fetched.amount, request.amount);
    assert_eq!(fetched.amount_captured, request.amount);
    assert_eq!(fetched.metadata, payment.metadata);
}

/// The same key and request answer the same payment; another request with the key is a conflict.
pub async fn create_is_idempotent(service: &dyn PaymentService, fixtures: &Fixtures) {
    let request = fixtures.payment(fixtures.amount_minor + 1);
    let first = service.create(&request).await.expect("create");
    let again = service
        .create(&request)
        .await
        .expect("create again, same key");
    assert_eq!(
        again.id, first.id,
        "a repeated create must not make a second payment"
    );
    assert_eq!(again.status, first.status);

    let mut changed = request.clone();
    changed.amount = fixtures.money(fixtures.amount_minor + 2);
    let error = expect_kind(
        service.create(&changed).await,
        ErrorKind::Conflict,
        "same key, other amount",
    );
    assert!(
        matches!(error, Error::IdempotencyConflict { .. }),
        "{error:?}"
    );
}

/// A key used by one operation cannot be used by another.
pub async fn idempotency_key_is_scoped_to_one_request(
    service: &dyn PaymentService,
    fixtures: &Fixtures,
) {
    let authorised = service
        .create(
            &fixtures
                .payment(fixtures.amount_minor)
                .with_capture(CaptureMode::Manual),
        )
        .await
        .expect("create manual");
    let used = fixtures.payment(fixtures.amount_minor);
    service.create(&used).await.expect("create");
    let error = expect_kind(
        service.cancel(&authorised.id, &used.idempotency_key).await,
        ErrorKind::Conflict,
        "cancel with a create's key",
    );
    assert!(
        matches!(error, Error::IdempotencyConflict { .. }),
        "{error:?}"
    );
    let still = service.get(&authorised.id).await.expect("get");
    assert_eq!(
        still.status,
        PaymentStatus::RequiresCapture,
        "a refused cancel changed the payment"
    );
}

/// Requests that cannot be right are refused as `Invalid`.
pub async fn invalid_requests_are_refused(service: &dyn PaymentService, fixtures: &Fixtures) {
    expect_kind(
        service.create(&fixtures.payment(0)).await,
        ErrorKind::Invalid,
        "zero amount",
    );
    expect_kind(
        service.create(&fixtures.payment(-5)).await,
        ErrorKind::Invalid,
        "negative amount",
    );
    let too_much_metadata = (0..51).fold(fixtures.payment(fixtures.amount_minor), |request, i| {
        request.with_metadata(format!("k{i}"), "v")
    });
    expect_kind(
        service.create(&too_much_metadata).await,
        ErrorKind::Invalid,
        "51 metadata entries",
    );
}

/// `get` of an unknown id is `NotFound`.
pub async fn get_unknown_is_not_found(service: &dyn PaymentService, _fixtures: &Fixtures) {
    let unknown = PaymentId::new(format!("pi_unknown_{}", key())).expect("id");
    expect_kind(
        service.get(&unknown).await,
        ErrorKind::NotFound,
        "get unknown",
    );
    expect_kind(
        service.list_refunds(&unknown).await,
        ErrorKind::NotFound,
        "list_refunds unknown",
    );
    expect_kind(
        service
            .refund(&CreateRefund::full(unknown.clone(), key()))
            .await,
        ErrorKind::NotFound,
        "refund unknown",
    );
}

/// Manual capture: authorised, then part of it captured; capturing again is a state conflict.
pub async fn manual_capture_partial(service: &dyn PaymentService, fixtures: &Fixtures) {
    let request = fixtures
        .payment(fixtures.amount_minor)
        .with_capture(CaptureMode::Manual);
    let authorised = service.create(&request).await.expect("create manual");
    assert_eq!(authorised.status, PaymentStatus::RequiresCapture);
    assert_eq!(authorised.amount_captured.minor(), 0);
    assert_eq!(authorised.capture, CaptureMode::Manual);

    let part = fixtures.money(fixtures.amount_minor - 500);
    let capture_key = key();
    let captured = service
        .capture(&authorised.id, Some(part), &capture_key)
        .await
        .expect("capture");
    assert_eq!(captured.status, PaymentStatus::Succeeded);
    assert_eq!(captured.amount_captured, part);
    let replayed = service
        .capture(&authorised.id, Some(part), &capture_key)
        .await
        .expect("capture replayed with the same key");
    assert_eq!(replayed.amount_captured, part);
    expect_kind(
        service.capture(&authorised.id, None, &key()).await,
        ErrorKind::Conflict,
        "capture twice",
    );
    let fetched = service.get(&authorised.id).await.expect("get");
    assert_eq!(fetched.amount_captured, part);
}

/// Capture refuses amounts above the authorisation, other currencies and non-positive amounts.
pub async fn capture_rules(service: &dyn PaymentService, fixtures: &Fixtures) {
    let authorised = service
        .create(
            &fixtures
                .payment(fixtures.amount_minor)
                .with_capture(CaptureMode::Manual),
        )
        .await
        .expect("create manual");
    expect_kind(
        service
            .capture(
                &authorised.id,
                Some(fixtures.money(fixtures.amount_minor + 1)),
                &key(),
            )
            .await,
        ErrorKind::Invalid,
        "capture more than authorised",
    );
    let other = if fixtures.currency.code() == "USD" {
        "EUR"
    } else {
        "USD"
    };
    let other = Currency::parse(other).expect("currency");
    expect_kind(
        service
            .capture(&authorised.id, Some(Money::new(100, other)), &key())
            .await,
        ErrorKind::Invalid,
        "capture in another currency",
    );
    expect_kind(
        service
            .capture(&authorised.id, Some(fixtures.money(0)), &key())
            .await,
        ErrorKind::Invalid,
        "capture zero",
    );
    let whole = service
        .capture(&authorised.id, None, &key())
        .await
        .expect("capture all");
    assert_eq!(whole.amount_captured, authorised.amount);

    let automatic = service
        .create(&fixtures.payment(fixtures.amount_minor))
        .await
        .expect("create");
    expect_kind(
        service.capture(&automatic.id, None, &key()).await,
        ErrorKind::Conflict,
        "capture an automatically captured payment",
    );
}

/// Cancel releases an authorisation once; paid or canceled payments cannot be canceled.
pub async fn cancel_rules(service: &dyn PaymentService, fixtures: &Fixtures) {
    let authorised = service
        .create(
            &fixtures
                .payment(fixtures.amount_minor)
                .with_capture(CaptureMode::Manual),
        )
        .await
        .expect("create manual");
    let cancel_key = key();
    let canceled = service
        .cancel(&authorised.id, &cancel_key)
        .await
        .expect("cancel");
    assert_eq!(canceled.status, PaymentStatus::Canceled);
    let replayed = service
        .cancel(&authorised.id, &cancel_key)
        .await
        .expect("cancel replayed with the same key");
    assert_eq!(replayed.status, PaymentStatus::Canceled);
    expect_kind(
        service.cancel(&authorised.id, &key()).await,
        ErrorKind::Conflict,
        "cancel twice",
    );
    expect_kind(
        service.capture(&authorised.id, None, &key()).await,
        ErrorKind::Conflict,
        "capture a canceled payment",
    );
    assert_eq!(
        service.get(&authorised.id).await.expect("get").status,
        PaymentStatus::Canceled
    );

    let paid = service
        .create(&fixtures.payment(fixtures.amount_minor))
        .await
        .expect("create");
    expect_kind(
        service.cancel(&paid.id, &key()).await,
        ErrorKind::Conflict,
        "cancel a paid payment",
    );
}

/// A payment created unconfirmed waits for `confirm`, which is idempotent and happens once.
pub async fn confirm_later(service: &dyn PaymentService, fixtures: &Fixtures) {
    let created = service
        .create(&fixtures.payment(fixtures.amount_minor).with_confirm(false))
        .await
        .expect("create unconfirmed");
    assert_eq!(created.status, PaymentStatus::RequiresConfirmation);
    assert_eq!(created.amount_captured.minor(), 0);
    let confirm_key = key();
    let confirmed = service
        .confirm(&created.id, &confirm_key)
        .await
        .expect("confirm");
    assert_eq!(confirmed.status, PaymentStatus::Succeeded);
    assert_eq!(confirmed.amount_captured, created.amount);
    let replayed = service
        .confirm(&created.id, &confirm_key)
        .await
        .expect("confirm replayed with the same key");
    assert_eq!(replayed.status, PaymentStatus::Succeeded);
    expect_kind(
        service.confirm(&created.id, &key()).await,
        ErrorKind::Conflict,
        "confirm twice",
    );
}

/// Several partial refunds, each with its own key, up to the captured amount.
pub async fn partial_refunds_up_to_captured(service: &dyn PaymentService, fixtures: &Fixtures) {
    let total = fixtures.amount_minor;
    let paid = service
        .create(&fixtures.payment(total))
        .await
        .expect("create");
    let first_request = CreateRefund::partial(paid.id.clone(), fixtures.money(300), key())
        .with_reason(RefundReason::RequestedByCustomer);
    let first = service
        .refund(&first_request)
        .await
        .expect("first partial refund");
    assert_eq!(first.amount, fixtures.money(300));
    assert_eq!(first.payment_id, paid.id);
    assert!(first.status.counts(), "{:?}", first.status);

    let replayed = service
        .refund(&first_request)
        .await
        .expect("refund replayed");
    assert_eq!(
        replayed.id, first.id,
        "a repeated refund must not refund twice"
    );
    let after_first = service.get(&paid.id).await.expect("get");
    assert_eq!(after_first.status, PaymentStatus::PartiallyRefunded);
    assert_eq!(after_first.amount_refunded, fixtures.money(300));

    let mut conflicting = first_request.clone();
    conflicting.amount = Some(fixtures.money(301));
    let error = expect_kind(
        service.refund(&conflicting).await,
        ErrorKind::Conflict,
        "refund key reused",
    );
    assert!(
        matches!(error, Error::IdempotencyConflict { .. }),
        "{error:?}"
    );

    let error = expect_kind(
        service
            .refund(&CreateRefund::partial(
                paid.id.clone(),
                fixtures.money(total - 300 + 1),
                key(),
            ))
            .await,
        ErrorKind::Conflict,
        "refund more than is left",
    );
    assert!(matches!(error, Error::InvalidState(_)), "{error:?}");

    let second = service
        .refund(&CreateRefund::partial(
            paid.id.clone(),
            fixtures.money(total - 300),
            key(),
        ))
        .await
        .expect("second partial refund, the rest");
    assert_eq!(second.amount, fixtures.money(total - 300));
    let refunded = service.get(&paid.id).await.expect("get");
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(refunded.amount_refunded, fixtures.money(total));

    let refunds = service.list_refunds(&paid.id).await.expect("list_refunds");
    let ids: Vec<_> = refunds.iter().map(|refund| refund.id.clone()).collect();
    assert_eq!(
        ids,
        vec![first.id.clone(), second.id.clone()],
        "oldest first"
    );
    expect_kind(
        service
            .refund(&CreateRefund::full(paid.id.clone(), key()))
            .await,
        ErrorKind::Conflict,
        "refund a refunded payment",
    );
}

/// A refund without an amount refunds everything.
pub async fn full_refund(service: &dyn PaymentService, fixtures: &Fixtures) {
    let paid = service
        .create(&fixtures.payment(fixtures.amount_minor))
        .await
        .expect("create");
    let refund = service
        .refund(&CreateRefund::full(paid.id.clone(), key()).with_metadata("reason", "test"))
        .await
        .expect("full refund");
    assert_eq!(refund.amount, paid.amount);
    let refunded = service.get(&paid.id).await.expect("get");
    assert_eq!(refunded.status, PaymentStatus::Refunded);
    assert_eq!(service.list_refunds(&paid.id).await.expect("list").len(), 1);
}

/// Refunds of unpaid payments, in another currency, or of nothing are refused.
pub async fn refund_rules(service: &dyn PaymentService, fixtures: &Fixtures) {
    let authorised = service
        .create(
            &fixtures
                .payment(fixtures.amount_minor)
                .with_capture(CaptureMode::Manual),
        )
        .await
        .expect("create manual");
    expect_kind(
        service
            .refund(&CreateRefund::full(authorised.id.clone(), key()))
            .await,
        ErrorKind::Conflict,
        "refund an uncaptured payment",
    );
    assert!(
        service
            .list_refunds(&authorised.id)
            .await
            .expect("list")
            .is_empty()
    );

    let paid = service
        .create(&fixtures.payment(fixtures.amount_minor))
        .await
        .expect("create");
    let other = if fixtures.currency.code() == "USD" {
        "EUR"
    } else {
        "USD"
    };
    let other = Currency::parse(other).expect("currency");
    expect_kind(
        service
            .refund(&CreateRefund::partial(
                paid.id.clone(),
                Money::new(100, other),
                key(),
            ))
            .await,
        ErrorKind::Invalid,
        "refund in another currency",
    );
    expect_kind(
        service
            .refund(&CreateRefund::partial(
                paid.id.clone(),
                fixtures.money(0),
                key(),
            ))
            .await,
        ErrorKind::Invalid,
        "refund zero",
    );
    assert_eq!(
        service.get(&paid.id).await.expect("get").status,
        PaymentStatus::Succeeded,
        "refused refunds changed the payment"
    );
}

/// A declined card is `CardDeclined` (`Permanent`) with its code; the attempt is
/// recorded as failed; the same key answers the same decline.
pub async fn decline_is_permanent_and_recorded(service: &dyn PaymentService, fixtures: &Fixtures) {
    let request = CreatePayment::new(
        fixtures.money(fixtures.amount_minor),
        fixtures.declining.clone(),
        key(),
    )
    .with_order_reference("order-conformance-declined");
    let error = expect_kind(
        service.create(&request).await,
        ErrorKind::Permanent,
        "declined card",
    );
    let Error::CardDeclined {
        decline_code,
        message,
        payment_id,
    } = &error
    else {
        panic!("expected CardDeclined, got {error:?}");
    };
    assert_eq!(
        decline_code.as_deref(),
        Some(fixtures.decline_code.as_str())
    );
    assert!(!message.is_empty());
    assert!(!error.is_retryable());
    if let Some(id) = payment_id {
        let failed = service.get(id).await.expect("get the failed payment");
        assert_eq!(failed.status, PaymentStatus::Failed);
        let failure = failed.failure.expect("a failed payment says why");
        assert_eq!(
            failure.decline_code.as_deref(),
            Some(fixtures.decline_code.as_str())
        );
        let canceled = service
            .cancel(id, &key())
            .await
            .expect("cancel a failed payment");
        assert_eq!(canceled.status, PaymentStatus::Canceled);
    }
    let again = service
        .create(&request)
        .await
        .expect_err("the same key declines again");
    assert_eq!(again.decline_code(), Some(fixtures.decline_code.as_str()));
}

/// A card needing customer action answers `requires_action`.
pub async fn requires_action(service: &dyn PaymentService, fixtures: &Fixtures) {
    let Some(method) = fixtures.requires_action.clone() else {
        return;
    };
    let request = CreatePayment::new(fixtures.money(fixtures.amount_minor), method, key());
    let payment = service.create(&request).await.expect("create");
    assert_eq!(payment.status, PaymentStatus::RequiresAction);
    assert_eq!(payment.amount_captured.minor(), 0);
    let canceled = service.cancel(&payment.id, &key()).await.expect("cancel");
    assert_eq!(canceled.status, PaymentStatus::Canceled);
}
