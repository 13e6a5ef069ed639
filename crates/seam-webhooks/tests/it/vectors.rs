//! The vectors produced by each provider's official library
//! (`tests/data/webhook-signatures.json`): a verifier that disagrees is wrong.

use seam_core::SecretString;
use seam_webhooks::{
    GithubVerifier, Provider, SendgridVerifier, StandardWebhooksVerifier, StripeVerifier,
    VerifyError, WebhookVerifier, events, sign,
};
use serde_json::Value;

use crate::support::{assert_rejected, clock_at, headers};

const TOLERANCE: std::time::Duration = seam_webhooks::DEFAULT_TOLERANCE;

fn vectors(scheme: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(include_str!("../data/webhook-signatures.json")).unwrap();
    let list = all[scheme].as_array().unwrap().clone();
    assert!(!list.is_empty(), "no {scheme} vectors");
    list
}

fn text<'a>(vector: &'a Value, key: &str) -> &'a str {
    vector[key]
        .as_str()
        .unwrap_or_else(|| panic!("vector has no {key}"))
}

#[test]
fn stripe_vectors_from_stripe_python_verify() {
    for vector in vectors("stripe") {
        let timestamp = vector["timestamp"].as_i64().unwrap();
        let payload = text(&vector, "payload").as_bytes();
        let secret = SecretString::from(text(&vector, "secret"));
        let verifier = StripeVerifier::new(
            vec![secret.clone()],
            TOLERANCE,
            clock_at(timestamp).shared(),
        )
        .unwrap();
        let signed = headers(&[("stripe-signature", text(&vector, "header_Stripe-Signature"))]);
        let verified = verifier.verify(&signed, payload).unwrap();
        assert_eq!(verified.provider, Provider::Stripe);
        assert_eq!(verified.timestamp.unwrap().timestamp(), timestamp);
        // Our signer produces the very header Stripe's library did.
        assert_eq!(
            sign::stripe(&[secret], timestamp, payload).unwrap(),
            text(&vector, "header_Stripe-Signature")
        );
        // After verification, the event's id and type can be read.
        let event = events::stripe_event(payload).unwrap();
        assert!(event.id.starts_with("evt_"), "{}", event.id);
        // One byte changed anywhere: refused.
        let mut tampered = payload.to_vec();
        tampered[payload.len() / 2] ^= 1;
        let error = verifier.verify(&signed, &tampered).unwrap_err();
        assert_eq!(error, VerifyError::NoMatchingSignature);
        assert_rejected(&error);
    }
}

#[test]
fn standard_webhooks_vectors_from_the_reference_library_verify() {
    for vector in vectors("standard_webhooks") {
        let timestamp: i64 = text(&vector, "webhook-timestamp").parse().unwrap();
        let payload = text(&vector, "payload").as_bytes();
        let secret = SecretString::from(text(&vector, "secret"));
        let verifier = StandardWebhooksVerifier::new(
            vec![secret.clone()],
            TOLERANCE,
            clock_at(timestamp).shared(),
        )
        .unwrap();
        let id = text(&vector, "webhook-id");
        let signed = headers(&[
            ("webhook-id", id),
            ("webhook-timestamp", text(&vector, "webhook-timestamp")),
            ("webhook-signature", text(&vector, "webhook-signature")),
        ]);
        let verified = verifier.verify(&signed, payload).unwrap();
        assert_eq!(verified.event_id.as_deref(), Some(id));
        assert_eq!(verified.timestamp.unwrap().timestamp(), timestamp);
        assert_eq!(
            sign::standard_webhooks(&[secret], id, timestamp, payload).unwrap(),
            text(&vector, "webhook-signature")
        );
        let mut tampered = payload.to_vec();
        tampered.push(b' ');
        assert_eq!(
            verifier.verify(&signed, &tampered),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}

#[test]
fn github_vectors_from_octokit_verify() {
    for vector in vectors("github") {
        let payload = text(&vector, "payload").as_bytes();
        let secret = SecretString::from(text(&vector, "secret"));
        let verifier = GithubVerifier::new(vec![secret.clone()]).unwrap();
        let signature = text(&vector, "header_X-Hub-Signature-256");
        let signed = headers(&[
            ("x-hub-signature-256", signature),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            ("x-github-event", "issues"),
        ]);
        let verified = verifier.verify(&signed, payload).unwrap();
        assert_eq!(
            verified.event_id.as_deref(),
            Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
        assert_eq!(verified.event_type.as_deref(), Some("issues"));
        assert_eq!(verified.timestamp, None);
        assert_eq!(sign::github(&secret, payload).unwrap(), signature);
        assert_eq!(
            verifier.verify(&signed, &payload[1..]),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}

#[test]
fn sendgrid_vectors_from_sendgrid_python_verify() {
    for vector in vectors("sendgrid_event_webhook") {
        let timestamp_text = text(&vector, "header_X-Twilio-Email-Event-Webhook-Timestamp");
        let timestamp: i64 = timestamp_text.parse().unwrap();
        let payload = text(&vector, "payload").as_bytes();
        let verifier = SendgridVerifier::new(
            &[text(&vector, "public_key_base64_der")],
            TOLERANCE,
            clock_at(timestamp).shared(),
        )
        .unwrap();
        let signed = headers(&[
            (
                "x-twilio-email-event-webhook-signature",
                text(&vector, "header_X-Twilio-Email-Event-Webhook-Signature"),
            ),
            ("x-twilio-email-event-webhook-timestamp", timestamp_text),
        ]);
        let verified = verifier.verify(&signed, payload).unwrap();
        assert_eq!(verified.provider, Provider::Sendgrid);
        assert_eq!(verified.timestamp.unwrap().timestamp(), timestamp);
        let batch = events::sendgrid_events(payload).unwrap();
        assert_eq!(batch.len(), 1);
        assert!(!batch[0].sg_event_id.is_empty());
        // The trailing CRLF is part of what was signed: without it, refused.
        assert_eq!(
            verifier.verify(&signed, payload.trim_ascii_end()),
            Err(VerifyError::NoMatchingSignature)
        );
    }
}
