//! SendGrid: signatures made here with a P-256 key as SendGrid documents, and every way to fail.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use seam_core::ManualClock;
use seam_webhooks::{SendgridVerifier, VerifyError, WebhookVerifier};

use crate::support::{assert_rejected, clock_at, headers};

const NOW: i64 = 1_764_300_000;
const BODY: &[u8] =
    b"[{\"email\":\"ada@example.com\",\"event\":\"bounce\",\"sg_event_id\":\"abc\"}]\r\n";

fn signing_key(seed: u8) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[31] = seed;
    bytes[0] = 1;
    SigningKey::from_slice(&bytes).unwrap()
}

/// The base64 DER SubjectPublicKeyInfo of `key`, as SendGrid shows it: the fixed
/// P-256 algorithm prefix, then the uncompressed point.
fn public_key(key: &SigningKey) -> String {
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.extend_from_slice(key.verifying_key().to_encoded_point(false).as_bytes());
    STANDARD.encode(der)
}

fn sign(key: &SigningKey, t: &str, body: &[u8]) -> String {
    let mut content = t.as_bytes().to_vec();
    content.extend_from_slice(body);
    let signature: Signature = key.sign(&content);
    STANDARD.encode(signature.to_der().as_bytes())
}

fn verifier(keys: &[&SigningKey], clock: &ManualClock) -> SendgridVerifier {
    let public: Vec<String> = keys.iter().map(|key| public_key(key)).collect();
    SendgridVerifier::new(&public, Duration::from_secs(300), clock.shared()).unwrap()
}

fn verify(
    verifier: &SendgridVerifier,
    signature: &str,
    t: &str,
    body: &[u8],
) -> Result<usize, VerifyError> {
    verifier
        .verify(
            &headers(&[
                ("X-Twilio-Email-Event-Webhook-Signature", signature),
                ("X-Twilio-Email-Event-Webhook-Timestamp", t),
            ]),
            body,
        )
        .map(|verified| verified.key_index)
}

#[test]
fn a_signature_over_timestamp_and_body_verifies_and_tampering_does_not() {
    let key = signing_key(1);
    let verifier = verifier(&[&key], &clock_at(NOW));
    let t = NOW.to_string();
    let signature = sign(&key, &t, BODY);
    assert_eq!(verify(&verifier, &signature, &t, BODY), Ok(0));
    let error = verify(&verifier, &signature, &t, &BODY[1..]).unwrap_err();
    assert_eq!(error, VerifyError::NoMatchingSignature);
    assert_rejected(&error);
    // The timestamp is part of the signed content.
    let later = (NOW + 1).to_string();
    assert_eq!(
        verify(&verifier, &signature, &later, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    // Signed by another key.
    let other = sign(&signing_key(2), &t, BODY);
    assert_eq!(
        verify(&verifier, &other, &t, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn old_and_future_timestamps_are_refused() {
    let key = signing_key(1);
    let verifier = verifier(&[&key], &clock_at(NOW));
    for t in [NOW - 301, NOW + 301, NOW - 3_600] {
        let t = t.to_string();
        let error = verify(&verifier, &sign(&key, &t, BODY), &t, BODY).unwrap_err();
        assert!(
            matches!(error, VerifyError::TimestampOutOfTolerance { .. }),
            "{error}"
        );
        assert_rejected(&error);
    }
    for t in [NOW - 300, NOW + 300] {
        let t = t.to_string();
        assert_eq!(verify(&verifier, &sign(&key, &t, BODY), &t, BODY), Ok(0));
    }
}

#[test]
fn rotated_keys_both_verify() {
    let (current, previous) = (signing_key(1), signing_key(2));
    let verifier = verifier(&[&current, &previous], &clock_at(NOW));
    let t = NOW.to_string();
    assert_eq!(
        verify(&verifier, &sign(&current, &t, BODY), &t, BODY),
        Ok(0)
    );
    assert_eq!(
        verify(&verifier, &sign(&previous, &t, BODY), &t, BODY),
        Ok(1)
    );
}

#[test]
fn missing_and_malformed_headers_are_4xx_errors() {
    let key = signing_key(1);
    let verifier = verifier(&[&key], &clock_at(NOW));
    let t = NOW.to_string();
    let good = sign(&key, &t, BODY);
    let missing = verifier
        .verify(
            &headers(&[("X-Twilio-Email-Event-Webhook-Timestamp", &t)]),
            BODY,
        )
        .unwrap_err();
    assert_eq!(
        missing,
        VerifyError::MissingHeader("x-twilio-email-event-webhook-signature")
    );
    let missing = verifier
        .verify(
            &headers(&[("X-Twilio-Email-Event-Webhook-Signature", &good)]),
            BODY,
        )
        .unwrap_err();
    assert_eq!(
        missing,
        VerifyError::MissingHeader("x-twilio-email-event-webhook-timestamp")
    );
    let signature = VerifyError::MalformedHeader("x-twilio-email-event-webhook-signature");
    let timestamp = VerifyError::MalformedHeader("x-twilio-email-event-webhook-timestamp");
    let raw_signature = {
        let signature: Signature = key.sign(BODY);
        STANDARD.encode(signature.to_bytes())
    };
    for (sig, t, expected) in [
        ("not base64!", t.as_str(), signature.clone()),
        ("AAAA", t.as_str(), signature.clone()),
        (raw_signature.as_str(), t.as_str(), signature.clone()),
        ("", t.as_str(), signature.clone()),
        (good.as_str(), "yesterday", timestamp.clone()),
        (good.as_str(), "", timestamp.clone()),
    ] {
        let error = verify(&verifier, sig, t, BODY).unwrap_err();
        assert_eq!(error, expected, "{sig:?} {t:?}");
        assert_rejected(&error);
    }
}

#[test]
fn public_keys_must_be_base64_der_p256() {
    let clock = clock_at(NOW).shared();
    let tolerance = Duration::from_secs(300);
    let empty: [&str; 0] = [];
    assert!(SendgridVerifier::new(&empty, tolerance, clock.clone()).is_err());
    for (bad, says) in [
        ("not base64 at all!", "not base64"),
        ("AAAA", "not a P-256 public key"),
        // A valid base64 DER, but of a private key (PKCS#8), not a public key.
        (
            "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg",
            "not a P-256 public key",
        ),
    ] {
        let error = SendgridVerifier::new(&[bad], tolerance, clock.clone()).unwrap_err();
        assert!(error.to_string().contains(says), "{bad}: {error}");
        assert!(error.to_string().contains("#0"), "{error}");
    }
    // Line breaks inside a pasted key are tolerated.
    let key = public_key(&signing_key(1));
    let wrapped = format!("{}\n{}", &key[..40], &key[40..]);
    assert!(SendgridVerifier::new(&[wrapped], tolerance, clock).is_ok());
}
