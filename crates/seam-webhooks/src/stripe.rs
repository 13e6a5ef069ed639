//! Stripe's scheme: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`.

use std::time::Duration;

use http::HeaderMap;
use seam_core::{ExposeSecret, SecretString, SharedClock};

use crate::config::ConfigError;
use crate::error::VerifyError;
use crate::headers;
use crate::mac::HmacKeys;
use crate::time;
use crate::{MAX_SIGNATURES, Provider, Verified, WebhookVerifier};

/// The header Stripe signs with.
pub const HEADER: &str = "stripe-signature";

/// Verifies Stripe webhooks.
///
/// The signed content is `{t}.{body}`, HMAC-SHA256 keyed with the *whole* endpoint
/// secret string (`whsec_…`, not decoded), hex-encoded as `v1`. Any `v1` in the header
/// may match any configured secret: Stripe sends one `v1` per active secret while a
/// secret is being rolled. Other schemes (`v0`, test-mode `v0`…) are ignored. The
/// timestamp `t` must be within the tolerance of the clock, in both directions
/// (Stripe's own libraries only reject old ones; a future one is as suspect).
#[derive(Debug, Clone)]
pub struct StripeVerifier {
    keys: HmacKeys,
    tolerance: Duration,
    clock: SharedClock,
}

impl StripeVerifier {
    /// A verifier accepting any of `secrets`, with timestamps within `tolerance`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when there is no secret, a secret is empty or blank, or the
    /// tolerance is under one second.
    pub fn new(
        secrets: Vec<SecretString>,
        tolerance: Duration,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::new(
                Provider::Stripe,
                "no signing secret configured",
            ));
        }
        if secrets
            .iter()
            .any(|secret| secret.expose_secret().trim().is_empty())
        {
            return Err(ConfigError::new(
                Provider::Stripe,
                "a signing secret is empty",
            ));
        }
        if !time::valid_tolerance(tolerance) {
            return Err(ConfigError::new(
                Provider::Stripe,
                format!("tolerance must be at least 1s, got {tolerance:?}"),
            ));
        }
        let keys = HmacKeys::new(
            secrets
                .iter()
                .map(|secret| secret.expose_secret().as_bytes()),
        )
        .ok_or_else(|| ConfigError::new(Provider::Stripe, "a signing secret is empty"))?;
        Ok(Self {
            keys,
            tolerance,
            clock,
        })
    }
}

/// The parts of a `Stripe-Signature` header this verifier uses.
struct Parsed<'a> {
    timestamp: &'a str,
    signatures: Vec<Vec<u8>>,
    /// Whether a `v1` was present but not valid hex.
    undecodable: bool,
}

fn parse(header: &str) -> Result<Parsed<'_>, VerifyError> {
    let malformed = VerifyError::MalformedHeader(HEADER);
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut undecodable = false;
    let mut seen = 0usize;
    for item in header.split(',') {
        let (key, value) = item.split_once('=').ok_or(malformed.clone())?;
        match key.trim() {
            // Two timestamps: which one was signed is ambiguous.
            "t" if timestamp.is_some() => return Err(malformed),
            "t" => timestamp = Some(value.trim()),
            "v1" => {
                seen += 1;
                if seen > MAX_SIGNATURES {
                    return Err(malformed);
                }
                match hex::decode(value.trim()) {
                    Ok(signature) => signatures.push(signature),
                    Err(_) => undecodable = true,
                }
            }
            // Other schemes (v0, future ones) are not for us; Stripe's libraries skip them too.
            _ => {}
        }
    }
    Ok(Parsed {
        timestamp: timestamp.ok_or(malformed)?,
        signatures,
        undecodable,
    })
}

impl WebhookVerifier for StripeVerifier {
    fn provider(&self) -> Provider {
        Provider::Stripe
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        let header = headers::required(headers, HEADER)?;
        let parsed = parse(header)?;
        let seconds = headers::unix_seconds(parsed.timestamp, HEADER)?;
        if parsed.signatures.is_empty() {
            return Err(if parsed.undecodable {
                VerifyError::MalformedHeader(HEADER)
            } else {
                VerifyError::NoSupportedSignature(HEADER)
            });
        }
        let timestamp = time::check(&*self.clock, seconds, self.tolerance)?;
        let key_index = self
            .keys
            .find(
                &[parsed.timestamp.as_bytes(), b".", body],
                &parsed.signatures,
            )
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified {
            provider: Provider::Stripe,
            event_id: None,
            event_type: None,
            timestamp: Some(timestamp),
            key_index,
        })
    }
}
