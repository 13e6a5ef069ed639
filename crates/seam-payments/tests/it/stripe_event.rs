use chrono::{TimeZone, Utc};
use seam_domain::{Currency, Money};
use seam_payments::stripe_event::{self, charge_object, event_json, payment_intent_object};
use seam_payments::{
    CaptureMode, CreatePayment, IdempotencyKey, Payment, PaymentEventKind, PaymentId,
    PaymentMethod, PaymentStatus,
};

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

fn payment(status: PaymentStatus) -> Payment {
    let request = CreatePayment::new(
        eur(2000),
        PaymentMethod::card("tok_visa").unwrap(),
        IdempotencyKey::new("k").unwrap(),
    )
    .with_order_reference("order-7")
    .with_capture(CaptureMode::Automatic);
    let mut payment = Payment::new(
        PaymentId::new("pi_123").unwrap(),
        &request,
        status,
        Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
    );
    payment.amount_captured = eur(2000);
    payment
}

#[test]
fn parses_a_stripe_payment_intent_succeeded() {
    // The shape Stripe documents for `payment_intent.succeeded`, trimmed.
    let body = br#"{
      "id": "evt_1", "object": "event", "api_version": "2025-12-15.clover",
      "created": 1700000100, "type": "payment_intent.succeeded", "livemode": false,
      "data": {"object": {"id": "pi_3Abc", "object": "payment_intent", "amount": 2000,
        "amount_received": 2000, "currency": "eur", "status": "succeeded",
        "metadata": {"order_id": "order-42"}}}
    }"#;
    let event = stripe_event::parse(body).unwrap();
    assert_eq!(event.id, "evt_1");
    assert_eq!(event.payment_id.unwrap().as_str(), "pi_3Abc");
    assert_eq!(event.order_reference.as_deref(), Some("order-42"));
    assert_eq!(
        event.kind,
        PaymentEventKind::PaymentSucceeded { amount: eur(2000) }
    );
    assert_eq!(event.occurred_at.timestamp(), 1_700_000_100);
}

#[test]
fn parses_failed_refunded_disputed_and_other() {
    let failed = br#"{"id":"evt_2","type":"payment_intent.payment_failed","created":1,
      "data":{"object":{"id":"pi_1","object":"payment_intent","amount":500,"currency":"usd",
      "last_payment_error":{"type":"card_error","code":"card_declined",
      "decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}}}"#;
    let event = stripe_event::parse(failed).unwrap();
    let PaymentEventKind::PaymentFailed { failure } = &event.kind else {
        panic!("{event:?}")
    };
    assert_eq!(failure.code, "card_declined");
    assert_eq!(failure.decline_code.as_deref(), Some("insufficient_funds"));
    assert_eq!(event.status(), Some(PaymentStatus::Failed));

    let refunded = br#"{"id":"evt_3","type":"charge.refunded","created":1,
      "data":{"object":{"id":"ch_1","object":"charge","amount":2000,"amount_refunded":500,
      "refunded":false,"currency":"eur","payment_intent":"pi_1","metadata":{"order_id":"o-1"}}}}"#;
    let event = stripe_event::parse(refunded).unwrap();
    assert_eq!(
        event.kind,
        PaymentEventKind::Refunded {
            amount_refunded: eur(500),
            fully_refunded: false
        }
    );
    assert_eq!(event.status(), Some(PaymentStatus::PartiallyRefunded));
    assert_eq!(event.order_reference.as_deref(), Some("o-1"));

    let dispute = br#"{"id":"evt_4","type":"charge.dispute.created","created":1,
      "data":{"object":{"id":"dp_1","object":"dispute","amount":2000,"currency":"eur",
      "charge":"ch_1","payment_intent":"pi_1","reason":"fraudulent"}}}"#;
    let event = stripe_event::parse(dispute).unwrap();
    assert_eq!(event.status(), Some(PaymentStatus::Disputed));
    assert_eq!(event.payment_id.unwrap().as_str(), "pi_1");

    let other = br#"{"id":"evt_5","type":"customer.created","created":1,
      "data":{"object":{"id":"cus_1","object":"customer"}}}"#;
    let event = stripe_event::parse(other).unwrap();
    assert_eq!(
        event.kind,
        PaymentEventKind::Other {
            event_type: "customer.created".into()
        }
    );
    assert_eq!(event.status(), None);
    assert!(event.payment_id.is_none());
}

#[test]
fn malformed_events_are_invalid_not_panics() {
    for body in [
        &b""[..],
        b"not json",
        b"{}",
        br#"{"id":"evt","type":"payment_intent.succeeded","created":1,"data":{"object":{}}}"#,
        br#"{"id":"evt","type":"charge.refunded","created":1,"data":{"object":{"amount_refunded":1,"currency":"zzz","payment_intent":"pi"}}}"#,
        br#"{"id":"evt","type":"charge.refunded","created":1,"data":{"object":{"amount_refunded":1,"currency":"eur"}}}"#,
    ] {
        let error = stripe_event::parse(body).unwrap_err();
        assert!(matches!(error, seam_payments::Error::Invalid(_)), "{error:?}");
    }
}

#[test]
fn built_events_parse_back() {
    let created = Utc.timestamp_opt(1_700_000_500, 0).unwrap();
    let succeeded = payment(PaymentStatus::Succeeded);
    let body = event_json(
        "evt_a",
        "payment_intent.succeeded",
        created,
        payment_intent_object(&succeeded),
    );
    let event = stripe_event::parse(&body).unwrap();
    assert_eq!(
        event.kind,
        PaymentEventKind::PaymentSucceeded { amount: eur(2000) }
    );
    assert_eq!(event.order_reference.as_deref(), Some("order-7"));
    assert_eq!(event.occurred_at, created);

    let mut refunded = payment(PaymentStatus::Refunded);
    refunded.amount_refunded = eur(2000);
    let body = event_json(
        "evt_b",
        "charge.refunded",
        created,
        charge_object(&refunded, "ch_1"),
    );
    let event = stripe_event::parse(&body).unwrap();
    assert_eq!(event.status(), Some(PaymentStatus::Refunded));
    assert_eq!(event.payment_id.unwrap().as_str(), "pi_123");
}
