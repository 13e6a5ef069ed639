//! ID token validation (OpenID Connect Core 1.0, section 3.1.3.7): the signature with
//! the provider's JWKS, then `iss`, `aud` (and `azp`), `exp` against the injected
//! clock, and the `nonce` issued with the authorization request.

use std::time::{Duration, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind as JwtErrorKind};
use seam_auth::Error;
use seam_core::SharedClock;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::provider::JwksCache;

/// The signature algorithms an ID token may use: asymmetric only. `none` and the HMAC
/// family (which would turn the provider's public key into a shared secret) never.
const ALLOWED: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The validated claims of an ID token.
pub(crate) type Claims = Map<String, Value>;

#[derive(Debug, Clone)]
pub(crate) struct IdTokenVerifier {
    pub(crate) issuer: String,
    pub(crate) client_id: String,
    pub(crate) jwks: JwksCache,
    pub(crate) leeway: Duration,
    pub(crate) clock: SharedClock,
}

impl IdTokenVerifier {
    /// Validates `token`; with `expected_nonce`, its `nonce` must equal it.
    pub(crate) async fn verify(
        &self,
        token: &str,
        expected_nonce: Option<&str>,
    ) -> Result<Claims, Error> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Error::malformed(format!("ID token header: {e}")))?;
        if !ALLOWED.contains(&header.alg) {
            return Err(Error::disallowed_algorithm(&format!("{:?}", header.alg)));
        }
        let jwk = self.jwks.key(header.kid.as_deref()).await?;
        if let Some(declared) = jwk.common.key_algorithm
            && format!("{declared:?}") != format!("{:?}", header.alg)
        {
            return Err(Error::disallowed_algorithm(&format!(
                "{:?} with a key declared for {declared:?}",
                header.alg
            )));
        }
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| Error::Internal(format!("the provider's key is unusable: {e}")))?;

        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        // Time is checked below against the injected clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["iss", "aud", "sub", "exp"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::InvalidSignature => Error::InvalidSignature,
                JwtErrorKind::InvalidIssuer => Error::wrong_issuer(&issuer_of(token)),
                JwtErrorKind::InvalidAudience => Error::WrongAudience,
                JwtErrorKind::MissingRequiredClaim(claim) => Error::missing_claim(claim.clone()),
                JwtErrorKind::InvalidAlgorithm => {
                    Error::disallowed_algorithm(&format!("{:?}", header.alg))
                }
                other => Error::malformed(format!("ID token: {other:?}")),
            })?
            .claims;

        self.check_time(&claims)?;
        self.check_azp(&claims)?;
        if let Some(expected) = expected_nonce {
            let nonce = claims
                .get("nonce")
                .and_then(Value::as_str)
                .ok_or(Error::NonceMismatch)?;
            if !bool::from(nonce.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(Error::NonceMismatch);
            }
        }
        Ok(claims)
    }

    fn check_time(&self, claims: &Claims) -> Result<(), Error> {
        let now = self
            .clock
            .system_time()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let leeway = self.leeway.as_secs_f64();
        let exp = claims
            .get("exp")
            .and_then(Value::as_f64)
            .ok_or_else(|| Error::invalid_claim("exp", "must be a number"))?;
        if exp + leeway <= now {
            return Err(Error::Expired);
        }
        if let Some(iat) = claims.get("iat") {
            let iat = iat
                .as_f64()
                .ok_or_else(|| Error::invalid_claim("iat", "must be a number"))?;
            if iat - leeway > now {
                return Err(Error::NotYetValid);
            }
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64)
            && nbf - leeway > now
        {
            return Err(Error::NotYetValid);
        }
        Ok(())
    }

    /// With several audiences, `azp` must name this client (Core 1.0, 3.1.3.7 items 4-5).
    fn check_azp(&self, claims: &Claims) -> Result<(), Error> {
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|aud| aud.len() > 1);
        match claims.get("azp").and_then(Value::as_str) {
            Some(azp) if azp != self.client_id => Err(Error::WrongAudience),
            None if several => Err(Error::WrongAudience),
            _ => Ok(()),
        }
    }
}

/// The `iss` of an unverified token, for the error message only (clipped there).
fn issuer_of(token: &str) -> String {
    use base64::Engine as _;
    token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Claims>(&bytes).ok())
        .and_then(|claims| claims.get("iss").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}
