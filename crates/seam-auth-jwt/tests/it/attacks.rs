//! Every known attack is refused with the precise reason.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use seam_auth::{DynRevocationList, Error, InMemoryRevocationList, RevocationList, TokenValidator};
use seam_auth_jwt::{Algorithm, KeySource, TrustedIssuer, ValidatorConfig};
use seam_core::{Classify, ErrorKind, ManualClock, SecretString};
use serde_json::json;

use crate::support::*;

async fn refused(validator: &dyn TokenValidator, token: &str) -> Error {
    let error = validator
        .validate(token)
        .await
        .expect_err("the token must be refused");
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
    assert!(
        !error.to_string().contains(token),
        "the error must not echo the token"
    );
    error
}

#[tokio::test]
async fn a_valid_token_gives_the_mapped_principal() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let mut claims = claims(&clock);
    claims["uid"] = json!("01936a3e-6f5c-7cc2-8a4e-0d7a3c1f2b11");
    claims["scp"] = json!(["profile"]);
    let principal = validator
        .validate(&sign(RSA_A, "a", &claims))
        .await
        .unwrap();
    assert_eq!(principal.subject, "user-1");
    assert_eq!(principal.issuer, ISSUER);
    assert!(principal.has_role("admin") && principal.has_role("user"));
    assert!(principal.has_scope("orders:read") && principal.has_scope("orders:write"));
    assert!(principal.has_scope("profile"), "scp is read beside scope");
    assert_eq!(principal.token_id.as_deref(), claims["jti"].as_str());
    assert_eq!(
        principal.expires_at.timestamp(),
        claims["exp"].as_i64().unwrap()
    );
    // No user id claim configured: the uid is not mapped.
    assert_eq!(principal.user_id, None);
}

#[tokio::test]
async fn the_user_id_claim_is_mapped_and_checked() {
    let clock = ManualClock::new();
    let mut issuer = trusted(KeySource::Static(jwks(&[(RSA_A, "a")])));
    issuer.claims.user_id = Some("uid".to_owned());
    let validator = validator(vec![issuer], &clock, None);
    let mut claims = claims(&clock);
    claims["uid"] = json!("01936a3e-6f5c-7cc2-8a4e-0d7a3c1f2b11");
    let principal = validator
        .validate(&sign(RSA_A, "a", &claims))
        .await
        .unwrap();
    assert_eq!(
        principal.user_id.unwrap().to_string(),
        "01936a3e-6f5c-7cc2-8a4e-0d7a3c1f2b11"
    );
    claims["uid"] = json!("not-a-uuid");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::InvalidClaim { ref claim, .. } if claim == "uid"),
        "{error}"
    );
}

#[tokio::test]
async fn alg_none_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let token = raw_token(&json!({"alg": "none", "typ": "JWT"}), &claims(&clock), b"");
    let error = refused(&validator, &token).await;
    assert!(
        matches!(error, Error::DisallowedAlgorithm { ref algorithm } if algorithm == "none"),
        "{error}"
    );
    // Spelled otherwise, too.
    let token = raw_token(&json!({"alg": "None", "kid": "a"}), &claims(&clock), b"");
    assert!(matches!(
        refused(&validator, &token).await,
        Error::DisallowedAlgorithm { .. }
    ));
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    // The attacker signs with HMAC, using the published RSA public key as the secret.
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("a".to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(&clock),
        &jsonwebtoken::EncodingKey::from_secret(RSA_A_PUBLIC.as_bytes()),
    )
    .unwrap();
    let error = refused(&validator, &token).await;
    assert!(
        matches!(error, Error::DisallowedAlgorithm { ref algorithm } if algorithm == "HS256"),
        "{error}"
    );

    // Even an issuer that lists HS256 next to an RSA key is refused at start-up.
    let mut confused = trusted(KeySource::Static(jwks(&[(RSA_A, "a")])));
    confused.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
    let config = ValidatorConfig {
        issuers: vec![confused],
        jwks: jwks_config(),
    };
    let error = seam_auth_jwt::JwtValidator::new(&config).unwrap_err();
    assert!(
        error.to_string().contains("never used as an HMAC secret"),
        "{error}"
    );
}

#[tokio::test]
async fn an_rs256_token_is_refused_by_a_shared_secret_issuer_and_hs256_accepted() {
    let clock = ManualClock::new();
    let secret = "a-shared-secret-of-at-least-32-bytes!!";
    let issuer = TrustedIssuer::with_keys(
        ISSUER,
        KeySource::SharedSecret(SecretString::from(secret.to_owned())),
        AUDIENCE,
    )
    .with_algorithms([Algorithm::HS256]);
    let validator = validator(vec![issuer], &clock, None);
    let error = refused(&validator, &sign(RSA_A, "a", &claims(&clock))).await;
    assert!(
        matches!(error, Error::DisallowedAlgorithm { .. }),
        "{error}"
    );
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(Algorithm::HS256),
        &claims(&clock),
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    validator.validate(&token).await.unwrap();
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let mut claims = claims(&clock);
    claims["aud"] = json!(["another-service"]);
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(matches!(error, Error::WrongAudience), "{error}");
    claims.as_object_mut().unwrap().remove("aud");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::MissingClaim { ref claim } if claim == "aud"),
        "{error}"
    );
}

#[tokio::test]
async fn a_token_naming_another_trusted_issuer_than_the_signer_is_refused() {
    // Issuer B trusts key `a` of its own (RSA_B); a token signed by A's key that
    // claims to come from B is refused: the issuer picked by `iss` verifies it.
    let clock = ManualClock::new();
    let mut b = trusted(KeySource::Static(jwks(&[(RSA_B, "a")])));
    b.issuer = "https://other-idp.example.test".to_owned();
    let validator = validator(
        vec![trusted(KeySource::Static(jwks(&[(RSA_A, "a")]))), b],
        &clock,
        None,
    );
    let mut claims = claims(&clock);
    claims["iss"] = json!("https://other-idp.example.test");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(matches!(error, Error::InvalidSignature), "{error}");
    // An `iss` that is not a string is refused before any key is looked up.
    claims["iss"] = json!([ISSUER]);
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::InvalidClaim { ref claim, .. } if claim == "iss"),
        "{error}"
    );
}

#[tokio::test]
async fn untrusted_issuer_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let mut claims = claims(&clock);
    claims["iss"] = json!("https://evil.example.test");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::UntrustedIssuer { ref issuer } if issuer == "https://evil.example.test"),
        "{error}"
    );
    claims.as_object_mut().unwrap().remove("iss");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::MissingClaim { ref claim } if claim == "iss"),
        "{error}"
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_on_the_clock_with_leeway() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let token = sign(RSA_A, "a", &claims(&clock));
    // exp = now + 300, leeway 10 s.
    clock.advance(Duration::from_secs(305));
    validator.validate(&token).await.expect("within the leeway");
    clock.advance(Duration::from_secs(10));
    let error = refused(&validator, &token).await;
    assert!(matches!(error, Error::Expired), "{error}");

    let mut claims = claims(&clock);
    claims["nbf"] = json!(now(&clock) + 60);
    let early = sign(RSA_A, "a", &claims);
    let error = refused(&validator, &early).await;
    assert!(matches!(error, Error::NotYetValid), "{error}");
    clock.advance(Duration::from_secs(55));
    validator
        .validate(&early)
        .await
        .expect("within the leeway of nbf");

    let mut claims = claims.clone();
    claims.as_object_mut().unwrap().remove("exp");
    let error = refused(&validator, &sign(RSA_A, "a", &claims)).await;
    assert!(
        matches!(error, Error::MissingClaim { ref claim } if claim == "exp"),
        "{error}"
    );
}

#[tokio::test]
async fn tampered_payload_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let token = sign(RSA_A, "a", &claims(&clock));
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = claims(&clock);
    payload["realm_access"]["roles"] = json!(["superuser"]);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        parts[2]
    );
    let error = refused(&validator, &forged).await;
    assert!(matches!(error, Error::InvalidSignature), "{error}");
    // A signature by another key under the same kid.
    let error = refused(&validator, &sign(RSA_B, "a", &claims(&clock))).await;
    assert!(matches!(error, Error::InvalidSignature), "{error}");
}

#[tokio::test]
async fn unknown_kid_on_static_keys_is_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    let error = refused(&validator, &sign(RSA_A, "nope", &claims(&clock))).await;
    assert!(
        matches!(error, Error::UnknownKey { ref kid, .. } if kid.as_deref() == Some("nope")),
        "{error}"
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let clock = ManualClock::new();
    let validator = static_validator(&clock);
    for token in ["abc", "a.b", "a.b.c.d", "!!!.???.***", &"x".repeat(20_000)] {
        let error = refused(&validator, token).await;
        assert!(
            matches!(error, Error::Malformed { .. }),
            "{token:.20}: {error}"
        );
    }
    assert!(matches!(
        validator.validate("").await,
        Err(Error::MissingCredentials)
    ));
}

#[tokio::test]
async fn a_required_claim_that_is_missing_is_refused() {
    let clock = ManualClock::new();
    let mut issuer = trusted(KeySource::Static(jwks(&[(RSA_A, "a")])));
    issuer.required_claims = vec!["tenant".to_owned()];
    let validator = validator(vec![issuer], &clock, None);
    let error = refused(&validator, &sign(RSA_A, "a", &claims(&clock))).await;
    assert!(
        matches!(error, Error::MissingClaim { ref claim } if claim == "tenant"),
        "{error}"
    );
    let mut claims = claims(&clock);
    claims["tenant"] = json!("acme");
    validator
        .validate(&sign(RSA_A, "a", &claims))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_revoked_jti_is_refused() {
    let clock = ManualClock::new();
    let list = Arc::new(InMemoryRevocationList::new(clock.shared()));
    let validator = validator(
        vec![trusted(KeySource::Static(jwks(&[(RSA_A, "a")])))],
        &clock,
        Some(list.clone() as Arc<DynRevocationList>),
    );
    let claims = claims(&clock);
    let token = sign(RSA_A, "a", &claims);
    validator.validate(&token).await.unwrap();
    list.revoke(
        claims["jti"].as_str().unwrap(),
        chrono::DateTime::from_timestamp(claims["exp"].as_i64().unwrap(), 0).unwrap(),
    )
    .await
    .unwrap();
    let error = refused(&validator, &token).await;
    assert!(matches!(error, Error::Revoked), "{error}");
}
