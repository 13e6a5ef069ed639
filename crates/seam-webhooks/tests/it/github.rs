//! GitHub: vectors computed from GitHub's documented algorithm, and every way to fail.

use seam_webhooks::{GithubVerifier, Provider, VerifyError, WebhookVerifier};

use crate::support::{assert_rejected, headers, hmac_sha256, secrets};

const BODY: &[u8] = br#"{"action":"closed","number":7}"#;
const SECRET: &str = "gh-current-secret";
const OLD_SECRET: &str = "gh-previous-secret";

fn signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
    )
}

fn verify(verifier: &GithubVerifier, header: &str, body: &[u8]) -> Result<usize, VerifyError> {
    verifier
        .verify(&headers(&[("X-Hub-Signature-256", header)]), body)
        .map(|verified| verified.key_index)
}

#[test]
fn githubs_documented_example_verifies() {
    // From GitHub's "Validating webhook deliveries" page.
    let verifier = GithubVerifier::new(secrets(&["It's a Secret to Everybody"])).unwrap();
    assert_eq!(
        verify(
            &verifier,
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            b"Hello, World!"
        ),
        Ok(0)
    );
    assert_eq!(verifier.provider(), Provider::Github);
}

#[test]
fn tampered_body_and_wrong_secret_are_refused() {
    let verifier = GithubVerifier::new(secrets(&[SECRET])).unwrap();
    let good = signature(SECRET, BODY);
    assert_eq!(verify(&verifier, &good, BODY), Ok(0));
    for (header, body) in [
        (good.clone(), &br#"{"action":"opened","number":7}"#[..]),
        (good.clone(), b""),
        (signature("gh-wrong", BODY), BODY),
    ] {
        let error = verify(&verifier, &header, body).unwrap_err();
        assert_eq!(error, VerifyError::NoMatchingSignature);
        assert_rejected(&error);
    }
}

#[test]
fn rotated_secrets_both_verify() {
    let rotating = GithubVerifier::new(secrets(&[SECRET, OLD_SECRET])).unwrap();
    assert_eq!(verify(&rotating, &signature(SECRET, BODY), BODY), Ok(0));
    assert_eq!(verify(&rotating, &signature(OLD_SECRET, BODY), BODY), Ok(1));
    let rotated = GithubVerifier::new(secrets(&[SECRET])).unwrap();
    assert_eq!(
        verify(&rotated, &signature(OLD_SECRET, BODY), BODY),
        Err(VerifyError::NoMatchingSignature)
    );
}

#[test]
fn missing_and_malformed_headers_are_4xx_errors() {
    let verifier = GithubVerifier::new(secrets(&[SECRET])).unwrap();
    let good = signature(SECRET, BODY);
    // Only the legacy SHA-1 header: not enough.
    let error = verifier
        .verify(&headers(&[("X-Hub-Signature", "sha1=0000")]), BODY)
        .unwrap_err();
    assert_eq!(error, VerifyError::MissingHeader("x-hub-signature-256"));
    assert_rejected(&error);
    let malformed = VerifyError::MalformedHeader("x-hub-signature-256");
    for header in [
        "",
        "sha256",
        "sha256=",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
        "sha256=xyz",
        "sha256=abc",
        &good[7..],
    ] {
        let result = verify(&verifier, header, BODY);
        if header == "sha256=" {
            // Empty hex decodes to an empty signature, which matches nothing.
            assert_eq!(result, Err(VerifyError::NoMatchingSignature));
        } else {
            assert_eq!(result, Err(malformed.clone()), "{header:?}");
        }
    }
}

#[test]
fn empty_secrets_are_refused() {
    assert!(GithubVerifier::new(vec![]).is_err());
    let error = GithubVerifier::new(secrets(&[""])).unwrap_err();
    assert!(error.to_string().contains("github"), "{error}");
}
