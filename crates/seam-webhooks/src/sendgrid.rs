//! SendGrid's signed Event Webhook: ECDSA P-256 with SHA-256 over `{timestamp}{body}`.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use http::HeaderMap;
use p256::ecdsa::signature::DigestVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use seam_core::SharedClock;
use sha2::{Digest, Sha256};

use crate::config::ConfigError;
use crate::error::VerifyError;
use crate::headers;
use crate::standard::BASE64;
use crate::time;
use crate::{Provider, Verified, WebhookVerifier};

/// The signature header: base64 of an ASN.1 DER ECDSA signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
/// The timestamp header (Unix seconds), part of the signed content.
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// Verifies SendGrid's signed Event Webhook.
///
/// SendGrid signs `{timestamp}{body}` (the timestamp header's text immediately
/// followed by the raw body) with ECDSA P-256 and SHA-256, and sends the base64 DER
/// signature. The verification key is the public key SendGrid shows for the webhook
/// (base64 DER SubjectPublicKeyInfo). Several keys may be configured (a key rotation,
/// or several SendGrid accounts posting to one endpoint). ECDSA signatures are
/// randomized: they are verified, never compared.
///
/// SendGrid documents no timestamp tolerance; the timestamp is signed, so checking it
/// against [`DEFAULT_TOLERANCE`](crate::DEFAULT_TOLERANCE) (or the configured one)
/// is what stops a captured request from being replayed later.
#[derive(Clone)]
pub struct SendgridVerifier {
    keys: Vec<VerifyingKey>,
    tolerance: Duration,
    clock: SharedClock,
}

impl fmt::Debug for SendgridVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendgridVerifier")
            .field("keys", &self.keys.len())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

impl SendgridVerifier {
    /// A verifier accepting signatures by any of `public_keys` (base64 DER
    /// SubjectPublicKeyInfo, as SendGrid shows them), with timestamps within `tolerance`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when there is no key, a key is not base64, or it is not a P-256
    /// public key; or the tolerance is under one second.
    pub fn new<S: AsRef<str>>(
        public_keys: &[S],
        tolerance: Duration,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if public_keys.is_empty() {
            return Err(ConfigError::new(
                Provider::Sendgrid,
                "no verification public key configured",
            ));
        }
        if !time::valid_tolerance(tolerance) {
            return Err(ConfigError::new(
                Provider::Sendgrid,
                format!("tolerance must be at least 1s, got {tolerance:?}"),
            ));
        }
        let keys = public_keys
            .iter()
            .enumerate()
            .map(|(index, key)| parse_public_key(key.as_ref(), index))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            keys,
            tolerance,
            clock,
        })
    }
}

fn parse_public_key(text: &str, index: usize) -> Result<VerifyingKey, ConfigError> {
    let compact: String = text.split_ascii_whitespace().collect();
    let der = BASE64.decode(compact.as_bytes()).map_err(|_| {
        ConfigError::new(
            Provider::Sendgrid,
            format!(
                "public key #{index} is not base64 (expected the base64 DER key SendGrid shows)"
            ),
        )
    })?;
    VerifyingKey::from_public_key_der(&der).map_err(|error| {
        ConfigError::new(
            Provider::Sendgrid,
            format!("public key #{index} is not a P-256 public key in DER SubjectPublicKeyInfo form: {error}"),
        )
    })
}

impl WebhookVerifier for SendgridVerifier {
    fn provider(&self) -> Provider {
        Provider::Sendgrid
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        let encoded = headers::required(headers, SIGNATURE_HEADER)?;
        let timestamp_text = headers::required(headers, TIMESTAMP_HEADER)?;
        let seconds = headers::unix_seconds(timestamp_text, TIMESTAMP_HEADER)?;
        let der = BASE64
            .decode(encoded)
            .map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        let signature = Signature::from_der(&der)
            .map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        let timestamp = time::check(&*self.clock, seconds, self.tolerance)?;
        let digest = Sha256::new()
            .chain_update(timestamp_text.as_bytes())
            .chain_update(body);
        let key_index = self
            .keys
            .iter()
            .position(|key| key.verify_digest(digest.clone(), &signature).is_ok())
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified {
            provider: Provider::Sendgrid,
            event_id: None,
            event_type: None,
            timestamp: Some(timestamp),
            key_index,
        })
    }
}
