use std::time::{Duration, SystemTime};

use hmac_check::verify;
use seam_core::{ManualClock, SecretString};
use seam_domain::{Currency, Money};
use seam_payments::{
    CaptureMode, CreatePayment, CreateRefund, IdempotencyKey, PaymentEventKind, PaymentMethod,
    PaymentService, PaymentStatus, stripe_event,
};
use seam_payments_sandbox::{RecordingSink, SandboxConfig};

/// An independent check of Stripe's signature scheme, as the webhook endpoint does it.
mod hmac_check {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    pub(crate) fn verify(secret: &str, header: &str, body: &[u8]) -> bool {
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for part in header.split(',') {
            match part.split_once('=') {
                Some(("t", value)) => timestamp = Some(value.to_owned()),
                Some(("v1", value)) => signatures.push(value.to_owned()),
                _ => {}
            }
        }
        let Some(timestamp) = timestamp else {
            return false;
        };
        signatures.iter().any(|signature| {
            let Ok(expected) = hex::decode(signature) else {
                return false;
            };
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(format!("{timestamp}.").as_bytes());
            mac.update(body);
            mac.verify_slice(&expected).is_ok()
        })
    }
}

fn eur(minor: i64) -> Money {
    Money::new(minor, Currency::parse("EUR").unwrap())
}

#[tokio::test]
async fn payments_send_signed_stripe_shaped_events() {
    let clock =
        ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let sink = RecordingSink::new();
    let sandbox = SandboxConfig {
        webhook_secret: Some(SecretString::from("whsec_sandbox")),
        webhook_url: None,
    }
    .build()
    .unwrap()
    .with_clock(clock.shared())
    .with_sink(sink.clone());

    let request = CreatePayment::new(
        eur(4200),
        PaymentMethod::card("tok_visa").unwrap(),
        IdempotencyKey::generate(),
    )
    .with_order_reference("order-99");
    let payment = sandbox.create(&request).await.unwrap();
    // An idempotent replay sends nothing more.
    sandbox.create(&request).await.unwrap();
    sandbox
        .refund(&CreateRefund::partial(
            payment.id.clone(),
            eur(200),
            IdempotencyKey::generate(),
        ))
        .await
        .unwrap();
    sandbox.dispute(&payment.id).await.unwrap();
    let declined = CreatePayment::new(
        eur(100),
        PaymentMethod::card("tok_chargeDeclined").unwrap(),
        IdempotencyKey::generate(),
    );
    sandbox.create(&declined).await.unwrap_err();

    assert_eq!(
        sink.event_types(),
        [
            "payment_intent.created",
            "payment_intent.succeeded",
            "charge.refunded",
            "charge.dispute.created",
            "payment_intent.created",
            "payment_intent.payment_failed",
        ]
    );
    let events = sink.events();
    for event in &events {
        let header = event.signature_header.as_deref().expect("signed");
        assert!(header.starts_with("t=1800000000,v1="), "{header}");
        assert!(verify("whsec_sandbox", header, &event.provider_event_json));
        assert!(!verify("whsec_other", header, &event.provider_event_json));
        let parsed = stripe_event::parse(&event.provider_event_json).unwrap();
        assert_eq!(parsed.id, event.event_id);
    }
    let succeeded = stripe_event::parse(&events[1].provider_event_json).unwrap();
    assert_eq!(
        succeeded.kind,
        PaymentEventKind::PaymentSucceeded { amount: eur(4200) }
    );
    assert_eq!(succeeded.payment_id.as_ref(), Some(&payment.id));
    assert_eq!(succeeded.order_reference.as_deref(), Some("order-99"));
    let refunded = stripe_event::parse(&events[2].provider_event_json).unwrap();
    assert_eq!(
        refunded.kind,
        PaymentEventKind::Refunded {
            amount_refunded: eur(200),
            fully_refunded: false
        }
    );
    assert_eq!(refunded.order_reference.as_deref(), Some("order-99"));
    let disputed = stripe_event::parse(&events[3].provider_event_json).unwrap();
    assert_eq!(disputed.status(), Some(PaymentStatus::Disputed));
    let failed = stripe_event::parse(&events[5].provider_event_json).unwrap();
    let PaymentEventKind::PaymentFailed { failure } = failed.kind else {
        panic!()
    };
    assert_eq!(failure.decline_code.as_deref(), Some("generic_decline"));
}

#[tokio::test]
async fn manual_capture_and_cancel_events_and_unsigned_without_secret() {
    let sink = RecordingSink::new();
    let sandbox = SandboxConfig::default()
        .build()
        .unwrap()
        .with_sink(sink.clone());
    let authorised = sandbox
        .create(
            &CreatePayment::new(
                eur(1000),
                PaymentMethod::card("tok_visa").unwrap(),
                IdempotencyKey::generate(),
            )
            .with_capture(CaptureMode::Manual),
        )
        .await
        .unwrap();
    sandbox
        .capture(&authorised.id, None, &IdempotencyKey::generate())
        .await
        .unwrap();
    let other = sandbox
        .create(
            &CreatePayment::new(
                eur(1000),
                PaymentMethod::card("tok_visa").unwrap(),
                IdempotencyKey::generate(),
            )
            .with_capture(CaptureMode::Manual),
        )
        .await
        .unwrap();
    sandbox
        .cancel(&other.id, &IdempotencyKey::generate())
        .await
        .unwrap();
    assert_eq!(
        sink.event_types(),
        [
            "payment_intent.created",
            "payment_intent.amount_capturable_updated",
            "payment_intent.succeeded",
            "payment_intent.created",
            "payment_intent.amount_capturable_updated",
            "payment_intent.canceled",
        ]
    );
    assert!(
        sink.events()
            .iter()
            .all(|event| event.signature_header.is_none())
    );
}

#[test]
fn signatures_match_those_of_stripes_official_library() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../data/stripe-signatures.json")).unwrap();
    let vectors = vectors["stripe"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for vector in vectors {
        let secret = vector["secret"].as_str().unwrap();
        let timestamp = vector["timestamp"].as_i64().unwrap();
        let payload = vector["payload"].as_str().unwrap();
        let expected = vector["header_Stripe-Signature"].as_str().unwrap();
        assert_eq!(
            seam_payments_sandbox::sign(secret, timestamp, payload.as_bytes()),
            expected,
            "{}",
            vector["library"]
        );
    }
    // The first vector is a payment_intent.succeeded the port parses.
    let event = stripe_event::parse(vectors[0]["payload"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(
        event.kind,
        PaymentEventKind::PaymentSucceeded { amount: eur(4200) }
    );
}
