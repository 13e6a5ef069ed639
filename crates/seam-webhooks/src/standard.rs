//! The Standard Webhooks scheme (<https://www.standardwebhooks.com>), used by Svix and others.

use std::time::Duration;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;
use seam_core::{ExposeSecret, SecretString, SharedClock};

use crate::config::ConfigError;
use crate::error::VerifyError;
use crate::headers;
use crate::mac::HmacKeys;
use crate::time;
use crate::{MAX_SIGNATURES, Provider, Verified, WebhookVerifier};

/// The delivery id header.
pub const ID_HEADER: &str = "webhook-id";
/// The timestamp header (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// The signature header: space-separated `v1,<base64>` entries.
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The same three headers under Svix's older names, accepted when `webhook-id` is absent.
const SVIX_HEADERS: [&str; 3] = ["svix-id", "svix-timestamp", "svix-signature"];

/// The prefix of a Standard Webhooks secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// Base64 with or without padding: senders differ.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Verifies Standard Webhooks deliveries.
///
/// The key is the base64 decoding of the secret after its `whsec_` prefix (the prefix
/// is optional); the signed content is `{webhook-id}.{webhook-timestamp}.{body}`,
/// HMAC-SHA256, base64. `webhook-signature` holds space-separated `v1,<base64>`
/// entries; any may match any configured secret. Other versions (`v1a`, asymmetric)
/// are ignored. Svix's `svix-id`/`svix-timestamp`/`svix-signature` names are
/// accepted when `webhook-id` is absent.
#[derive(Debug, Clone)]
pub struct StandardWebhooksVerifier {
    keys: HmacKeys,
    tolerance: Duration,
    clock: SharedClock,
}

/// The HMAC key of a `whsec_<base64>` secret.
pub(crate) fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.trim();
    let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
    BASE64.decode(encoded).ok().filter(|key| !key.is_empty())
}

impl StandardWebhooksVerifier {
    /// A verifier accepting any of `secrets` (`whsec_<base64>`), with timestamps within
    /// `tolerance`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when there is no secret, a secret is not base64 after its
    /// `whsec_` prefix or decodes to nothing, or the tolerance is under one second.
    pub fn new(
        secrets: Vec<SecretString>,
        tolerance: Duration,
        clock: SharedClock,
    ) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::new(
                Provider::StandardWebhooks,
                "no signing secret configured",
            ));
        }
        if !time::valid_tolerance(tolerance) {
            return Err(ConfigError::new(
                Provider::StandardWebhooks,
                format!("tolerance must be at least 1s, got {tolerance:?}"),
            ));
        }
        let mut decoded = Vec::with_capacity(secrets.len());
        for (index, secret) in secrets.iter().enumerate() {
            let key = decode_secret(secret.expose_secret()).ok_or_else(|| {
                ConfigError::new(
                    Provider::StandardWebhooks,
                    format!(
                        "secret #{index} is not `{SECRET_PREFIX}` followed by non-empty base64"
                    ),
                )
            })?;
            decoded.push(key);
        }
        let keys = HmacKeys::new(decoded.iter().map(Vec::as_slice)).ok_or_else(|| {
            ConfigError::new(Provider::StandardWebhooks, "a signing secret is empty")
        })?;
        Ok(Self {
            keys,
            tolerance,
            clock,
        })
    }
}

/// The `v1` signatures of a `webhook-signature` header, and whether one was not base64.
fn signatures(header: &str, name: &'static str) -> Result<(Vec<Vec<u8>>, bool), VerifyError> {
    let mut signatures = Vec::new();
    let mut undecodable = false;
    let mut seen = 0usize;
    for entry in header.split_ascii_whitespace() {
        let (version, signature) = entry
            .split_once(',')
            .ok_or(VerifyError::MalformedHeader(name))?;
        if version != "v1" {
            continue;
        }
        seen += 1;
        if seen > MAX_SIGNATURES {
            return Err(VerifyError::MalformedHeader(name));
        }
        match BASE64.decode(signature) {
            Ok(signature) => signatures.push(signature),
            Err(_) => undecodable = true,
        }
    }
    Ok((signatures, undecodable))
}

impl WebhookVerifier for StandardWebhooksVerifier {
    fn provider(&self) -> Provider {
        Provider::StandardWebhooks
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        let [id_name, timestamp_name, signature_name] =
            if headers.contains_key(ID_HEADER) || !headers.contains_key(SVIX_HEADERS[0]) {
                [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER]
            } else {
                SVIX_HEADERS
            };
        let id = headers::required(headers, id_name)?;
        let timestamp_text = headers::required(headers, timestamp_name)?;
        let header = headers::required(headers, signature_name)?;
        let seconds = headers::unix_seconds(timestamp_text, timestamp_name)?;
        let (signatures, undecodable) = signatures(header, signature_name)?;
        if signatures.is_empty() {
            return Err(if undecodable {
                VerifyError::MalformedHeader(signature_name)
            } else {
                VerifyError::NoSupportedSignature(signature_name)
            });
        }
        let timestamp = time::check(&*self.clock, seconds, self.tolerance)?;
        let key_index = self
            .keys
            .find(
                &[id.as_bytes(), b".", timestamp_text.as_bytes(), b".", body],
                &signatures,
            )
            .ok_or(VerifyError::NoMatchingSignature)?;
        Ok(Verified {
            provider: Provider::StandardWebhooks,
            event_id: Some(id.to_owned()),
            event_type: None,
            timestamp: Some(timestamp),
            key_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_decode_with_or_without_prefix_and_padding() {
        assert_eq!(decode_secret("whsec_YWJj").unwrap(), b"abc");
        assert_eq!(decode_secret("YWJj").unwrap(), b"abc");
        assert_eq!(decode_secret("whsec_YWI=").unwrap(), b"ab");
        assert_eq!(decode_secret("whsec_YWI").unwrap(), b"ab");
        assert!(decode_secret("whsec_").is_none());
        assert!(decode_secret("whsec_not base64!").is_none());
    }

    #[test]
    fn only_v1_entries_are_read() {
        let (found, undecodable) = signatures("v1a,abc v1,YWJj v2,YWJj", "s").unwrap();
        assert_eq!((found, undecodable), (vec![b"abc".to_vec()], false));
        let (found, undecodable) = signatures("v1,@@@", "s").unwrap();
        assert!(found.is_empty() && undecodable);
        assert!(signatures("v1", "s").is_err());
    }
}
