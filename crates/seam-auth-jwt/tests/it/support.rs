//! Keys, token forging and validators shared by the tests.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use seam_auth::DynRevocationList;
use seam_auth_jwt::{JwksCacheConfig, JwtValidator, KeySource, TrustedIssuer, ValidatorConfig};
use seam_core::{Clock, ManualClock};
use serde_json::{Value, json};

pub(crate) const RSA_A: &str = include_str!("../data/rsa_a.pem");
pub(crate) const RSA_A_PUBLIC: &str = include_str!("../data/rsa_a_pub.pem");
pub(crate) const RSA_B: &str = include_str!("../data/rsa_b.pem");

pub(crate) const ISSUER: &str = "https://idp.example.test";
pub(crate) const AUDIENCE: &str = "seam-api";

pub(crate) fn rsa_key(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

/// The public JWK of an RSA private key, with `kid`.
pub(crate) fn public_jwk(pem: &str, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(&rsa_key(pem), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk
}

pub(crate) fn jwks(keys: &[(&str, &str)]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|(pem, kid)| public_jwk(pem, kid)).collect(),
    }
}

pub(crate) fn now(clock: &ManualClock) -> i64 {
    DateTime::<Utc>::from(clock.system_time()).timestamp()
}

/// Standard claims, valid for 5 minutes on `clock`.
pub(crate) fn claims(clock: &ManualClock) -> Value {
    let now = now(clock);
    json!({
        "iss": ISSUER,
        "sub": "user-1",
        "aud": AUDIENCE,
        "exp": now + 300,
        "nbf": now - 1,
        "iat": now,
        "jti": format!("jti-{}", uuid::Uuid::now_v7().simple()),
        "realm_access": { "roles": ["admin", "user"] },
        "scope": "orders:read orders:write",
    })
}

/// Signs `claims` with RS256 under `kid`.
pub(crate) fn sign(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &rsa_key(pem)).unwrap()
}

/// A token from raw header and payload JSON and a raw signature.
pub(crate) fn raw_token(header: &Value, payload: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

/// A trusted issuer mapping roles from `realm_access.roles`.
pub(crate) fn trusted(keys: KeySource) -> TrustedIssuer {
    let mut issuer = TrustedIssuer::with_keys(ISSUER, keys, AUDIENCE);
    issuer.claims.roles = "realm_access.roles".to_owned();
    issuer.leeway = Duration::from_secs(10);
    issuer
}

pub(crate) fn jwks_config() -> JwksCacheConfig {
    JwksCacheConfig {
        ttl: Duration::from_secs(300),
        min_refetch_interval: Duration::from_secs(30),
        max_staleness: Duration::from_secs(3600),
        fetch_timeout: Duration::from_secs(5),
    }
}

pub(crate) fn validator(
    issuers: Vec<TrustedIssuer>,
    clock: &ManualClock,
    revocations: Option<Arc<DynRevocationList>>,
) -> JwtValidator {
    let config = ValidatorConfig {
        issuers,
        jwks: jwks_config(),
    };
    let mut builder = JwtValidator::builder(&config).clock(clock.shared());
    if let Some(revocations) = revocations {
        builder = builder.revocations(revocations);
    }
    builder.build().unwrap()
}

/// A validator whose single issuer has static keys `a` (RSA_A).
pub(crate) fn static_validator(clock: &ManualClock) -> JwtValidator {
    validator(
        vec![trusted(KeySource::Static(jwks(&[(RSA_A, "a")])))],
        clock,
        None,
    )
}
