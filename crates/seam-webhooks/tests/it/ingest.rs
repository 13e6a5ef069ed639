//! The ingest path over the in-memory queue: verify -> deduplicate -> enqueue.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use seam_queue::{Consumer, MemoryQueue, MemoryQueueConfig, MemoryUniquePublisher};
use seam_webhooks::ingest::{self, DEFAULT_DEDUPE_TTL, WEBHOOKS_QUEUE};
use seam_webhooks::{
    Accepted, EndpointConfig, Ingest, IngestError, Provider, WebhookMessage, sign,
};

use crate::support::{clock_at, headers, secrets};

const NOW: i64 = 1_750_000_000;

fn setup() -> (Ingest, MemoryQueue) {
    let clock = clock_at(NOW);
    let queue = MemoryQueue::new(MemoryQueueConfig::new(vec![ingest::binding()])).unwrap();
    let publisher = Arc::new(MemoryUniquePublisher::new(queue.clone()));
    let stripe = EndpointConfig::new(Provider::Stripe, secrets(&["whsec_test"]))
        .build(clock.shared())
        .unwrap();
    let github = EndpointConfig::new(Provider::Github, secrets(&["gh-secret"]))
        .build(clock.shared())
        .unwrap();
    (
        Ingest::new(vec![stripe, github], publisher, DEFAULT_DEDUPE_TTL),
        queue,
    )
}

fn stripe_request(body: &str) -> http::HeaderMap {
    let signature = sign::stripe(&secrets(&["whsec_test"]), NOW, body.as_bytes()).unwrap();
    headers(&[
        ("stripe-signature", &signature),
        ("content-type", "application/json"),
    ])
}

const EVENT: &str = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;

#[tokio::test]
async fn a_signed_event_is_enqueued_once_and_a_redelivery_is_a_duplicate() {
    let (ingest, queue) = setup();
    let received_at = Utc::now();
    let first = ingest
        .ingest(
            Provider::Stripe,
            &stripe_request(EVENT),
            EVENT.as_bytes(),
            received_at,
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        Accepted::New {
            event_id: "evt_1".into()
        }
    );
    let again = ingest
        .ingest(
            Provider::Stripe,
            &stripe_request(EVENT),
            EVENT.as_bytes(),
            received_at,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        Accepted::Duplicate {
            event_id: "evt_1".into()
        }
    );
    assert_eq!(queue.len(WEBHOOKS_QUEUE), 1);
    let delivery = queue
        .receive(WEBHOOKS_QUEUE, Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.envelope().message_type, "webhook.stripe");
    let message: WebhookMessage = delivery.decode().unwrap();
    assert_eq!(message.event_id, "evt_1");
    assert_eq!(message.event_type, "payment_intent.succeeded");
    assert_eq!(message.body, EVENT, "the raw body travels unchanged");
}

#[tokio::test]
async fn a_bad_signature_is_rejected_and_nothing_is_enqueued() {
    let (ingest, queue) = setup();
    let tampered = EVENT.replace("evt_1", "evt_2");
    let error = ingest
        .ingest(
            Provider::Stripe,
            &stripe_request(EVENT),
            tampered.as_bytes(),
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, IngestError::Rejected { .. }), "{error:?}");
    let error = ingest
        .ingest(
            Provider::Stripe,
            &headers(&[]),
            EVENT.as_bytes(),
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, IngestError::Rejected { .. }), "{error:?}");
    assert_eq!(queue.len(WEBHOOKS_QUEUE), 0);
}

#[tokio::test]
async fn an_unconfigured_provider_and_an_unreadable_body_are_refused() {
    let (ingest, queue) = setup();
    let error = ingest
        .ingest(Provider::Sendgrid, &headers(&[]), b"[]", Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        IngestError::NotConfigured(Provider::Sendgrid)
    ));
    let body = r#"{"type":"x"}"#;
    let error = ingest
        .ingest(
            Provider::Stripe,
            &stripe_request(body),
            body.as_bytes(),
            Utc::now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, IngestError::Unreadable { .. }), "{error:?}");
    assert_eq!(queue.len(WEBHOOKS_QUEUE), 0);
}

#[tokio::test]
async fn github_deliveries_are_keyed_by_their_delivery_header() {
    let (ingest, queue) = setup();
    let body = r#"{"zen":"Keep it logically awesome."}"#;
    let signature = sign::github(&"gh-secret".into(), body.as_bytes()).unwrap();
    let request = headers(&[
        ("x-hub-signature-256", &signature),
        ("x-github-delivery", "d-1"),
        ("x-github-event", "ping"),
    ]);
    let accepted = ingest
        .ingest(Provider::Github, &request, body.as_bytes(), Utc::now())
        .await
        .unwrap();
    assert_eq!(
        accepted,
        Accepted::New {
            event_id: "d-1".into()
        }
    );
    let message: WebhookMessage = queue
        .receive(WEBHOOKS_QUEUE, Duration::ZERO)
        .await
        .unwrap()
        .unwrap()
        .decode()
        .unwrap();
    assert_eq!(message.event_type, "ping");
    assert_eq!(
        ingest::provider_from_path("standard"),
        Some(Provider::StandardWebhooks)
    );
    assert_eq!(ingest::provider_from_path("paypal"), None);
}
