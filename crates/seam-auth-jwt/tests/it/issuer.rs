//! Seam's own issuer: tokens its validator accepts, published keys, key rotation and
//! the development key.

use std::time::Duration;

use seam_auth::{Error, TokenValidator};
use seam_auth_jwt::{
    Algorithm, IssuerConfig, JwtValidator, KeySource, SigningKeyConfig, TokenIssuer, TokenRequest,
    TrustedIssuer, ValidatorConfig, generate_ed25519_pem, load_or_generate_dev_key,
};
use seam_core::{ExposeSecret, ManualClock, SecretString};

use crate::support::{RSA_A, RSA_B, jwks_config};

pub(crate) fn issuer_config(keys: Vec<SigningKeyConfig>, active: Option<&str>) -> IssuerConfig {
    IssuerConfig {
        issuer: "https://seam.test".to_owned(),
        audiences: vec!["seam".to_owned()],
        access_ttl: Duration::from_secs(900),
        max_access_ttl: Duration::from_secs(3600),
        keys,
        active_kid: active.map(str::to_owned),
    }
}

pub(crate) fn ed_key(kid: &str) -> SigningKeyConfig {
    SigningKeyConfig {
        kid: kid.to_owned(),
        algorithm: Algorithm::EdDSA,
        private_key_pem: generate_ed25519_pem(),
    }
}

fn rsa(kid: &str, pem: &str) -> SigningKeyConfig {
    SigningKeyConfig {
        kid: kid.to_owned(),
        algorithm: Algorithm::RS256,
        private_key_pem: SecretString::from(pem.to_owned()),
    }
}

fn validator_for(issuer: &TokenIssuer, clock: &ManualClock) -> JwtValidator {
    let config = ValidatorConfig {
        issuers: vec![issuer.trusted_issuer(Duration::from_secs(5))],
        jwks: jwks_config(),
    };
    JwtValidator::builder(&config)
        .clock(clock.shared())
        .build()
        .unwrap()
}

#[tokio::test]
async fn issued_tokens_validate_with_roles_scopes_and_user() {
    let clock = ManualClock::new();
    let ec = SigningKeyConfig {
        kid: "ec-1".to_owned(),
        algorithm: Algorithm::ES256,
        private_key_pem: SecretString::from(include_str!("../data/ec_p256.pem").to_owned()),
    };
    for key in [ed_key("ed-1"), rsa("rsa-1", RSA_A), ec] {
        let issuer =
            TokenIssuer::with_clock(&issuer_config(vec![key], None), clock.shared()).unwrap();
        let user = seam_core::Id::new();
        let mut request = TokenRequest::new(user.to_string());
        request.user_id = Some(user);
        request.roles.insert("admin".to_owned());
        request.scopes.insert("orders:write".to_owned());
        let token = issuer.issue(&request).unwrap();
        assert!(!format!("{token:?}").contains(token.token.expose_secret()));
        let principal = validator_for(&issuer, &clock)
            .validate(token.token.expose_secret())
            .await
            .unwrap();
        assert_eq!(principal.subject, user.to_string());
        assert_eq!(principal.user_id, Some(user));
        assert!(principal.has_role("admin"));
        assert!(principal.has_scope("orders:write"));
        assert_eq!(principal.token_id.as_deref(), Some(token.jti.as_str()));
        assert_eq!(principal.expires_at, token.expires_at);
        let header = jsonwebtoken::decode_header(token.token.expose_secret()).unwrap();
        assert_eq!(header.kid.as_deref(), Some(token.kid.as_str()));
    }
}

#[tokio::test]
async fn issued_tokens_expire_and_ttl_is_capped() {
    let clock = ManualClock::new();
    let issuer =
        TokenIssuer::with_clock(&issuer_config(vec![ed_key("k")], None), clock.shared()).unwrap();
    let validator = validator_for(&issuer, &clock);
    let mut request = TokenRequest::new("svc");
    request.ttl = Some(Duration::from_secs(60));
    let token = issuer.issue(&request).unwrap();
    clock.advance(Duration::from_secs(66));
    assert!(matches!(
        validator.validate(token.token.expose_secret()).await,
        Err(Error::Expired)
    ));
    request.ttl = Some(Duration::from_secs(100_000));
    let long = issuer.issue(&request).unwrap();
    assert!(
        long.expires_at
            <= chrono::DateTime::<chrono::Utc>::from(seam_core::Clock::system_time(&clock))
                + chrono::Duration::hours(1)
    );
}

#[tokio::test]
async fn key_rotation_old_tokens_validate_until_their_key_is_removed() {
    let clock = ManualClock::new();
    let a = rsa("a", RSA_A);
    let b = rsa("b", RSA_B);
    let before =
        TokenIssuer::with_clock(&issuer_config(vec![a.clone()], None), clock.shared()).unwrap();
    let old_token = before.issue(&TokenRequest::new("svc")).unwrap();

    // Rotation: b signs, a is still published.
    let during = TokenIssuer::with_clock(
        &issuer_config(vec![a.clone(), b.clone()], Some("b")),
        clock.shared(),
    )
    .unwrap();
    assert_eq!(during.active_kid(), "b");
    assert_eq!(during.jwks().keys.len(), 2);
    let new_token = during.issue(&TokenRequest::new("svc")).unwrap();
    assert_eq!(new_token.kid, "b");
    let validator = validator_for(&during, &clock);
    validator
        .validate(old_token.token.expose_secret())
        .await
        .unwrap();
    validator
        .validate(new_token.token.expose_secret())
        .await
        .unwrap();

    // a removed: tokens it signed are refused.
    let after = TokenIssuer::with_clock(&issuer_config(vec![b], None), clock.shared()).unwrap();
    let validator = validator_for(&after, &clock);
    let error = validator
        .validate(old_token.token.expose_secret())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::UnknownKey { .. }), "{error}");
    validator
        .validate(new_token.token.expose_secret())
        .await
        .unwrap();
}

#[test]
fn the_published_jwks_holds_public_keys_only() {
    let issuer =
        TokenIssuer::new(&issuer_config(vec![rsa("a", RSA_A), ed_key("e")], None)).unwrap();
    let json = serde_json::to_value(issuer.jwks()).unwrap();
    let keys = json["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{key}");
        }
        assert_eq!(key["use"], "sig");
    }
    assert_eq!(keys[0]["kid"], "a");
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[1]["kty"], "OKP");
    // The JWKS serves a JWKS-URL validator just as well (checked in the API tests).
    let _: TrustedIssuer = issuer.trusted_issuer(Duration::ZERO);
    assert!(matches!(
        issuer.trusted_issuer(Duration::ZERO).keys,
        KeySource::Static(_)
    ));
}

#[test]
fn bad_issuer_configs_are_refused_with_a_clear_message() {
    let cases: Vec<(IssuerConfig, &str)> = vec![
        (issuer_config(vec![], None), "at least one signing key"),
        (
            issuer_config(vec![ed_key("a"), ed_key("a")], None),
            "empty or repeated",
        ),
        (
            issuer_config(vec![ed_key("a")], Some("z")),
            "names no configured key",
        ),
        (
            issuer_config(
                vec![SigningKeyConfig {
                    kid: "h".to_owned(),
                    algorithm: Algorithm::HS256,
                    private_key_pem: SecretString::from("x".repeat(40)),
                }],
                None,
            ),
            "asymmetric keys only",
        ),
        (
            issuer_config(
                vec![SigningKeyConfig {
                    kid: "r".to_owned(),
                    algorithm: Algorithm::RS256,
                    private_key_pem: SecretString::from("not a pem".to_owned()),
                }],
                None,
            ),
            "not a valid RS256 private key PEM",
        ),
    ];
    for (config, expected) in cases {
        let error = TokenIssuer::new(&config).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{error} should say {expected}"
        );
        assert!(
            !error.to_string().contains("not a pem"),
            "the key never appears in errors"
        );
    }
}

#[test]
fn the_development_key_is_generated_once_and_kept_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("dev-signing.pem");
    let first = load_or_generate_dev_key(&path).unwrap();
    let second = load_or_generate_dev_key(&path).unwrap();
    assert_eq!(first.expose_secret(), second.expose_secret());
    assert!(
        first
            .expose_secret()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let config = issuer_config(
        vec![SigningKeyConfig {
            kid: "dev".to_owned(),
            algorithm: Algorithm::EdDSA,
            private_key_pem: first,
        }],
        None,
    );
    TokenIssuer::new(&config).expect("the generated key signs");
}
