//! Stripe: vectors computed from Stripe's documented algorithm, and every way to fail.

use std::time::Duration;

use seam_core::ManualClock;
use seam_webhooks::{StripeVerifier, VerifyError, WebhookVerifier};

use crate::support::{assert_rejected, clock_at, headers, hmac_sha256, secrets};

const NOW: i64 = 1_764_100_000;
const BODY: &[u8] = br#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded"}"#;
const SECRET: &str = "whsec_current";
const OLD_SECRET: &str = "whsec_previous";

fn v1(secret: &str, t: i64, body: &[u8]) -> String {
    hex::encode(hmac_sha256(
        secret.as_bytes(),
        &[t.to_string().as_bytes(), b".", body],
    ))
}

fn verifier(list: &[&str], clock: &ManualClock) -> StripeVerifier {
    StripeVerifier::new(secrets(list), Duration::from_secs(300), clock.shared()).unwrap()
}

fn verify(verifier: &StripeVerifier, header: &str, body: &[u8]) -> Result<usize, VerifyError> {
    verifier
        .verify(&headers(&[("Stripe-Signature", header)]), body)
        .map(|verified| verified.key_index)
}

#[test]
fn a_computed_signature_verifies_and_a_tampered_body_does_not() {
    let verifier = verifier(&[SECRET], &clock_at(NOW));
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, BODY));
    assert_eq!(verify(&verifier, &header, BODY), Ok(0));
    let tampered = BODY.to_vec().into_iter().rev().collect::<Vec<_>>();
    assert_eq!(
        verify(&verifier, &header, &tampered),
        Err(VerifyError::NoMatchingSignature)
    );
    // The timestamp is signed: moving it (within tolerance) breaks the signature.
    let moved = format!("t={},v1={}", NOW + 1, v1(SECRET, NOW, BODY));
    assert_eq!(
        verify(&verifier, &moved, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn a_wrong_secret_is_refused() {
    let verifier = verifier(&[SECRET], &clock_at(NOW));
    let header = format!("t={NOW},v1={}", v1("whsec_someone_else", NOW, BODY));
    let error = verify(&verifier, &header, BODY).unwrap_err();
    assert_eq!(error, VerifyError::NoMatchingSignature);
    assert_rejected(&error);
}

#[test]
fn old_and_future_timestamps_are_refused_at_the_tolerance_edge() {
    let clock = clock_at(NOW);
    let verifier = verifier(&[SECRET], &clock);
    for (t, accepted) in [
        (NOW - 300, true),
        (NOW + 300, true),
        (NOW - 301, false),
        (NOW + 301, false),
        (NOW - 86_400, false),
        (NOW + 86_400, false),
        (0, false),
    ] {
        let header = format!("t={t},v1={}", v1(SECRET, t, BODY));
        let result = verify(&verifier, &header, BODY);
        if accepted {
            assert_eq!(result, Ok(0), "t = now{:+}", t - NOW);
        } else {
            let error = result.unwrap_err();
            assert!(
                matches!(error, VerifyError::TimestampOutOfTolerance { .. }),
                "t = now{:+}: {error}",
                t - NOW
            );
            assert_rejected(&error);
        }
    }
    // The same request, accepted now, is refused once the clock moved on: no replay.
    let header = format!("t={NOW},v1={}", v1(SECRET, NOW, BODY));
    assert_eq!(verify(&verifier, &header, BODY), Ok(0));
    clock.advance(Duration::from_secs(301));
    assert!(matches!(
        verify(&verifier, &header, BODY),
        Err(VerifyError::TimestampOutOfTolerance {
            skew_seconds: -301,
            tolerance_seconds: 300,
            ..
        })
    ));
}

#[test]
fn any_listed_v1_may_match_and_other_schemes_are_ignored() {
    let verifier = verifier(&[SECRET], &clock_at(NOW));
    let good = v1(SECRET, NOW, BODY);
    let wrong = v1("whsec_other", NOW, BODY);
    for header in [
        format!("t={NOW},v1={wrong},v1={good}"),
        format!("t={NOW},v1={good},v1={wrong}"),
        format!("v1={good},t={NOW}"),
        format!("t={NOW},v0={wrong},v1={good}"),
        format!("t={NOW}, v1={good}"),
        // One v1 that is not hex does not spoil another that verifies.
        format!("t={NOW},v1=zz-not-hex,v1={good}"),
    ] {
        assert_eq!(verify(&verifier, &header, BODY), Ok(0), "{header}");
    }
}

#[test]
fn rotated_secrets_all_verify_and_say_which_matched() {
    let clock = clock_at(NOW);
    let rotating = verifier(&[SECRET, OLD_SECRET], &clock);
    let by_new = format!("t={NOW},v1={}", v1(SECRET, NOW, BODY));
    let by_old = format!("t={NOW},v1={}", v1(OLD_SECRET, NOW, BODY));
    let by_both = format!(
        "t={NOW},v1={},v1={}",
        v1(OLD_SECRET, NOW, BODY),
        v1(SECRET, NOW, BODY)
    );
    assert_eq!(verify(&rotating, &by_new, BODY), Ok(0));
    assert_eq!(verify(&rotating, &by_old, BODY), Ok(1));
    assert_eq!(verify(&rotating, &by_both, BODY), Ok(0));
    // Once the old secret is retired, its signatures no longer pass.
    let rotated = verifier(&[SECRET], &clock);
    assert_eq!(
        verify(&rotated, &by_old, BODY),
        Err(VerifyError::NoMatchingSignature)
    );
    assert_eq!(verify(&rotated, &by_both, BODY), Ok(0));
}

#[test]
fn missing_and_malformed_headers_are_4xx_errors() {
    let verifier = verifier(&[SECRET], &clock_at(NOW));
    let good = v1(SECRET, NOW, BODY);
    let missing = verifier.verify(&headers(&[]), BODY).unwrap_err();
    assert_eq!(missing, VerifyError::MissingHeader("stripe-signature"));
    assert_rejected(&missing);
    let malformed = VerifyError::MalformedHeader("stripe-signature");
    let cases = [
        ("", malformed.clone()),
        ("   ", malformed.clone()),
        (&format!("t=abc,v1={good}") as &str, malformed.clone()),
        (&format!("t=-{NOW},v1={good}"), malformed.clone()),
        (&format!("t={NOW}.5,v1={good}"), malformed.clone()),
        (&format!("t=,v1={good}"), malformed.clone()),
        (&format!("v1={good}"), malformed.clone()),
        (&format!("t={NOW},t={NOW},v1={good}"), malformed.clone()),
        (&format!("t={NOW},v1{good}"), malformed.clone()),
        (&format!("t={NOW},v1=not-hex"), malformed.clone()),
        (&format!("t={NOW},v1=abc"), malformed.clone()),
        (
            &format!("t={NOW}"),
            VerifyError::NoSupportedSignature("stripe-signature"),
        ),
        (
            &format!("t={NOW},v0={good}"),
            VerifyError::NoSupportedSignature("stripe-signature"),
        ),
        (&format!("t={NOW},v1="), VerifyError::NoMatchingSignature),
        (
            &format!("t={NOW},v1={}", &good[..32]),
            VerifyError::NoMatchingSignature,
        ),
    ];
    for (header, expected) in cases {
        let error = verify(&verifier, header, BODY).unwrap_err();
        assert_eq!(error, expected, "{header:?}");
        assert_rejected(&error);
    }
    let too_many = format!("t={NOW}{}", format!(",v1={good}").repeat(17));
    assert_eq!(verify(&verifier, &too_many, BODY), Err(malformed.clone()));
    // Two Stripe-Signature headers: which one was signed is ambiguous.
    let twice = headers(&[
        ("stripe-signature", &format!("t={NOW},v1={good}")),
        ("stripe-signature", &format!("t={NOW},v1={good}")),
    ]);
    assert_eq!(verifier.verify(&twice, BODY), Err(malformed));
}

#[test]
fn configuration_problems_are_named_and_secrets_never_shown() {
    let clock = clock_at(NOW).shared();
    let tolerance = Duration::from_secs(300);
    let error = StripeVerifier::new(vec![], tolerance, clock.clone()).unwrap_err();
    assert!(error.to_string().contains("no signing secret"), "{error}");
    let error = StripeVerifier::new(secrets(&[SECRET, " "]), tolerance, clock.clone()).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
    let error = StripeVerifier::new(secrets(&[SECRET]), Duration::ZERO, clock.clone()).unwrap_err();
    assert!(error.to_string().contains("tolerance"), "{error}");
    let verifier = StripeVerifier::new(secrets(&[SECRET]), tolerance, clock).unwrap();
    assert!(!format!("{verifier:?}").contains("whsec"), "{verifier:?}");
}
