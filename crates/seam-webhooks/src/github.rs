//! GitHub's scheme: `X-Hub-Signature-256: sha256=<hex>` over the raw body.

use http::HeaderMap;
use seam_core::{ExposeSecret, SecretString};

use crate::config::ConfigError;
use crate::error::VerifyError;
use crate::headers;
use crate::mac::HmacKeys;
use crate::{Provider, Verified, WebhookVerifier};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The delivery id header (a GUID per delivery, kept on redelivery).
pub const DELIVERY_HEADER: &str = "x-github-delivery";
/// The event type header (`push`, `pull_request`…).
pub const EVENT_HEADER: &str = "x-github-event";

/// Verifies GitHub webhooks: HMAC-SHA256 of the raw body keyed with the secret,
/// hex-encoded after `sha256=`.
///
/// GitHub signs no timestamp, so there is no tolerance and no replay protection in
/// the signature: deduplicate on [`Verified::event_id`] (`X-GitHub-Delivery`).
/// The legacy SHA-1 `X-Hub-Signature` header is ignored.
#[derive(Debug, Clone)]
pub struct GithubVerifier {
    keys: HmacKeys,
}

impl GithubVerifier {
    /// A verifier accepting any of `secrets`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when there is no secret or one is empty or blank.
    pub fn new(secrets: Vec<SecretString>) -> Result<Self, ConfigError> {
        if secrets.is_empty() {
            return Err(ConfigError::new(
                Provider::Github,
                "no webhook secret configured",
            ));
        }
        if secrets
            .iter()
            .any(|secret| secret.expose_secret().trim().is_empty())
        {
            return Err(ConfigError::new(
                Provider::Github,
                "a webhook secret is empty",
            ));
        }
        let keys = HmacKeys::new(
            secrets
                .iter()
                .map(|secret| secret.expose_secret().as_bytes()),
        )
        .ok_or_else(|| ConfigError::new(Provider::Github, "a webhook secret is empty"))?;
        Ok(Self { keys })
    }
}

impl WebhookVerifier for GithubVerifier {
    fn provider(&self) -> Provider {
        Provider::Github
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        let header = headers::required(headers, SIGNATURE_HEADER)?;
        let hex_signature = header
            .strip_prefix("sha256=")
            .ok_or(VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        let signature = hex::decode(hex_signature)
            .map_err(|_| VerifyError::MalformedHeader(SIGNATURE_HEADER))?;
        let key_index = self
            .keys
            .find(&[body], &[signature])
            .ok_or(VerifyError::NoMatchingSignature)?;
        // Read only once the request is trusted; a bad value is dropped, not an error.
        let text = |name| {
            headers::optional(headers, name)
                .ok()
                .flatten()
                .map(str::to_owned)
        };
        Ok(Verified {
            provider: Provider::Github,
            event_id: text(DELIVERY_HEADER),
            event_type: text(EVENT_HEADER),
            timestamp: None,
            key_index,
        })
    }
}
