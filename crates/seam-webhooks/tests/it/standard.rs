//! Standard Webhooks: vectors computed from the specification, and every way to fail.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use seam_core::ManualClock;
use seam_webhooks::{StandardWebhooksVerifier, VerifyError, WebhookVerifier};

use crate::support::{assert_rejected, clock_at, headers, hmac_sha256, secrets};

const NOW: i64 = 1_764_200_000;
const BODY: &[u8] = br#"{"type":"order.paid","data":{"id":"ord_1"}}"#;
const KEY: &[u8] = b"the-current-24-byte-key!";
const OLD_KEY: &[u8] = b"the-previous-24-byte-key";
const ID: &str = "msg_2abc";

fn whsec(key: &[u8]) -> String {
    format!("whsec_{}", STANDARD.encode(key))
}

fn v1(key: &[u8], id: &str, t: i64, body: &[u8]) -> String {
    let tag = hmac_sha256(
        key,
        &[id.as_bytes(), b".", t.to_string().as_bytes(), b".", body],
    );
    format!("v1,{}", STANDARD.encode(tag))
}

fn verifier(keys: &[&[u8]], clock: &ManualClock) -> StandardWebhooksVerifier {
    let list: Vec<String> = keys.iter().map(|key| whsec(key)).collect();
    let list: Vec<&str> = list.iter().map(String::as_str).collect();
    StandardWebhooksVerifier::new(secrets(&list), Duration::from_secs(300), clock.shared()).unwrap()
}

fn verify(
    verifier: &StandardWebhooksVerifier,
    id: &str,
    t: &str,
    signature: &str,
    body: &[u8],
) -> Result<usize, VerifyError> {
    verifier
        .verify(
            &headers(&[
                ("webhook-id", id),
                ("webhook-timestamp", t),
                ("webhook-signature", signature),
            ]),
            body,
        )
        .map(|verified| verified.key_index)
}

#[test]
fn computed_signatures_verify_and_tampering_anywhere_is_refused() {
    let verifier = verifier(&[KEY], &clock_at(NOW));
    let t = NOW.to_string();
    let signature = v1(KEY, ID, NOW, BODY);
    assert_eq!(verify(&verifier, ID, &t, &signature, BODY), Ok(0));
    let mut tampered = BODY.to_vec();
    tampered[3] = b'X';
    for (id, t, body) in [
        (ID, t.clone(), &tampered[..]),
        ("msg_other", t.clone(), BODY),
        (ID, (NOW + 1).to_string(), BODY),
    ] {
        assert_eq!(
            verify(&verifier, id, &t, &signature, body),
            Err(VerifyError::NoMatchingSignature)
        );
    }
    let wrong_key = v1(b"another-key-of-24-bytes!", ID, NOW, BODY);
    let error = verify(&verifier, ID, &t, &wrong_key, BODY).unwrap_err();
    assert_eq!(error, VerifyError::NoMatchingSignature);
    assert_rejected(&error);
}

#[test]
fn the_delivery_id_and_timestamp_are_reported() {
    let verifier = verifier(&[KEY], &clock_at(NOW));
    let verified = verifier
        .verify(
            &headers(&[
                ("webhook-id", ID),
                ("webhook-timestamp", &NOW.to_string()),
                ("webhook-signature", &v1(KEY, ID, NOW, BODY)),
            ]),
            BODY,
        )
        .unwrap();
    assert_eq!(verified.event_id.as_deref(), Some(ID));
    assert_eq!(verified.timestamp.unwrap().timestamp(), NOW);
}

#[test]
fn old_and_future_timestamps_are_refused() {
    let verifier = verifier(&[KEY], &clock_at(NOW));
    for (t, accepted) in [
        (NOW - 300, true),
        (NOW + 300, true),
        (NOW - 301, false),
        (NOW + 301, false),
        (NOW + 7 * 86_400, false),
    ] {
        let result = verify(&verifier, ID, &t.to_string(), &v1(KEY, ID, t, BODY), BODY);
        match result {
            Ok(_) => assert!(accepted, "t = now{:+} accepted", t - NOW),
            Err(error) => {
                assert!(!accepted, "t = now{:+}: {error}", t - NOW);
                assert!(matches!(error, VerifyError::TimestampOutOfTolerance { .. }));
                assert_rejected(&error);
            }
        }
    }
}

#[test]
fn several_signatures_with_one_valid_and_rotated_secrets() {
    let clock = clock_at(NOW);
    let t = NOW.to_string();
    let rotating = verifier(&[KEY, OLD_KEY], &clock);
    let good = v1(KEY, ID, NOW, BODY);
    let old = v1(OLD_KEY, ID, NOW, BODY);
    let wrong = v1(b"yet-another-24-byte-key!", ID, NOW, BODY);
    assert_eq!(
        verify(&rotating, ID, &t, &format!("{wrong} {good}"), BODY),
        Ok(0)
    );
    assert_eq!(
        verify(&rotating, ID, &t, &format!("v1a,c2lnbmF0dXJl {old}"), BODY),
        Ok(1)
    );
    assert_eq!(
        verify(&rotating, ID, &t, &format!("v1,@@@ {good}"), BODY),
        Ok(0)
    );
    assert_eq!(verify(&rotating, ID, &t, &old, BODY), Ok(1));
    let rotated = verifier(&[KEY], &clock);
    assert_eq!(
        verify(&rotated, ID, &t, &old, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn svix_header_names_are_accepted() {
    let verifier = verifier(&[KEY], &clock_at(NOW));
    let verified = verifier
        .verify(
            &headers(&[
                ("svix-id", ID),
                ("svix-timestamp", &NOW.to_string()),
                ("svix-signature", &v1(KEY, ID, NOW, BODY)),
            ]),
            BODY,
        )
        .unwrap();
    assert_eq!(verified.event_id.as_deref(), Some(ID));
}

#[test]
fn missing_and_malformed_headers_are_4xx_errors() {
    let verifier = verifier(&[KEY], &clock_at(NOW));
    let t = NOW.to_string();
    let good = v1(KEY, ID, NOW, BODY);
    let all = [
        ("webhook-id", ID),
        ("webhook-timestamp", t.as_str()),
        ("webhook-signature", good.as_str()),
    ];
    for skip in 0..all.len() {
        let partial: Vec<_> = all
            .iter()
            .enumerate()
            .filter(|(index, _)| *index != skip)
            .map(|(_, pair)| *pair)
            .collect();
        let error = verifier.verify(&headers(&partial), BODY).unwrap_err();
        assert_eq!(error, VerifyError::MissingHeader(all[skip].0));
        assert_rejected(&error);
    }
    let signature = VerifyError::MalformedHeader("webhook-signature");
    let timestamp = VerifyError::MalformedHeader("webhook-timestamp");
    let cases = [
        (ID, "soon", good.as_str(), timestamp.clone()),
        (ID, "1.7e9", good.as_str(), timestamp.clone()),
        (ID, "", good.as_str(), timestamp.clone()),
        (
            "",
            t.as_str(),
            good.as_str(),
            VerifyError::MalformedHeader("webhook-id"),
        ),
        (ID, t.as_str(), "", signature.clone()),
        (ID, t.as_str(), "v1", signature.clone()),
        (ID, t.as_str(), "v1,not*base64!", signature.clone()),
        (
            ID,
            t.as_str(),
            "v2,c2lnbmF0dXJl",
            VerifyError::NoSupportedSignature("webhook-signature"),
        ),
        (
            ID,
            t.as_str(),
            "v1,c2lnbmF0dXJl",
            VerifyError::NoMatchingSignature,
        ),
    ];
    for (id, t, sig, expected) in cases {
        let error = verify(&verifier, id, t, sig, BODY).unwrap_err();
        assert_eq!(error, expected, "{id:?} {t:?} {sig:?}");
        assert_rejected(&error);
    }
    let too_many = vec![good.as_str(); 17].join(" ");
    assert_eq!(verify(&verifier, ID, &t, &too_many, BODY), Err(signature));
}

#[test]
fn secrets_must_be_whsec_base64() {
    let clock = clock_at(NOW).shared();
    let tolerance = Duration::from_secs(300);
    for bad in ["whsec_", "whsec_***", "whsec_ not base64"] {
        let error =
            StandardWebhooksVerifier::new(secrets(&[bad]), tolerance, clock.clone()).unwrap_err();
        assert!(error.to_string().contains("secret #0"), "{error}");
    }
    assert!(StandardWebhooksVerifier::new(vec![], tolerance, clock.clone()).is_err());
    assert!(StandardWebhooksVerifier::new(secrets(&[&whsec(KEY)]), Duration::ZERO, clock).is_err());
}
