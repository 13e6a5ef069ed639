//! One webhook endpoint's configuration, and the verifier it builds.

use std::time::Duration;

use seam_core::{SecretString, SharedClock};
use serde::{Deserialize, Serialize};

use crate::{
    DEFAULT_TOLERANCE, GithubVerifier, Provider, SendgridVerifier, StandardWebhooksVerifier,
    StripeVerifier, WebhookVerifier,
};

/// A verifier's configuration is unusable; the message says what to fix (and never
/// shows a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook endpoint ({provider}): {message}")]
pub struct ConfigError {
    /// The scheme being configured.
    pub provider: Provider,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    pub(crate) fn new(provider: Provider, message: impl Into<String>) -> Self {
        Self {
            provider,
            message: message.into(),
        }
    }
}

/// How to verify one webhook endpoint.
///
/// ```toml
/// provider = "stripe"
/// secrets = ["whsec_current", "whsec_previous"]   # any may verify, during a roll
/// tolerance = "5m"
/// ```
///
/// SendGrid verifies with public keys, not secrets:
///
/// ```toml
/// provider = "sendgrid"
/// public_keys = ["MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE…"]
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// The signature scheme.
    pub provider: Provider,
    /// The active signing secrets (Stripe, Standard Webhooks, GitHub). Any may verify.
    #[serde(default)]
    pub secrets: Vec<SecretString>,
    /// The active verification public keys, base64 DER (SendGrid). Any may verify.
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// How far a signed timestamp may be from now, either way. Default 5 minutes.
    /// GitHub signs no timestamp and ignores it.
    #[serde(default = "default_tolerance", with = "humantime_serde")]
    pub tolerance: Duration,
}

fn default_tolerance() -> Duration {
    DEFAULT_TOLERANCE
}

impl EndpointConfig {
    /// An endpoint of `provider` verified with `secrets` and the default tolerance.
    pub fn new(provider: Provider, secrets: Vec<SecretString>) -> Self {
        Self {
            provider,
            secrets,
            public_keys: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
        }
    }

    /// Validates the configuration and builds its verifier.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the problem: no secret (or public key for SendGrid), an
    /// empty secret, a Standard Webhooks secret that is not `whsec_<base64>`, a public
    /// key that is not base64 DER P-256, public keys given to an HMAC scheme or secrets
    /// given to SendGrid, a tolerance under one second.
    pub fn build(&self, clock: SharedClock) -> Result<Box<dyn WebhookVerifier>, ConfigError> {
        Ok(match self.provider {
            Provider::Stripe => Box::new(StripeVerifier::new(
                self.hmac_secrets()?,
                self.tolerance,
                clock,
            )?),
            Provider::StandardWebhooks => Box::new(StandardWebhooksVerifier::new(
                self.hmac_secrets()?,
                self.tolerance,
                clock,
            )?),
            Provider::Github => Box::new(GithubVerifier::new(self.hmac_secrets()?)?),
            Provider::Sendgrid => {
                if !self.secrets.is_empty() {
                    return Err(ConfigError::new(
                        Provider::Sendgrid,
                        "SendGrid verifies with `public_keys`, not `secrets`",
                    ));
                }
                Box::new(SendgridVerifier::new(
                    &self.public_keys,
                    self.tolerance,
                    clock,
                )?)
            }
        })
    }

    fn hmac_secrets(&self) -> Result<Vec<SecretString>, ConfigError> {
        if !self.public_keys.is_empty() {
            return Err(ConfigError::new(
                self.provider,
                "this scheme verifies with `secrets`; `public_keys` is for SendGrid",
            ));
        }
        Ok(self.secrets.clone())
    }
}
