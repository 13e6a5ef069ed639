//! Inbound webhooks: signature verification on the raw body, before any parsing.
//!
//! A webhook endpoint is reachable by anyone, so nothing in a request is trusted
//! until its signature checks out over the exact bytes received. Each scheme is a
//! [`WebhookVerifier`]:
//!
//! | verifier | headers | signed bytes | key |
//! | --- | --- | --- | --- |
//! | [`StripeVerifier`] | `Stripe-Signature: t=…,v1=…[,v1=…]` | `{t}.{body}`, HMAC-SHA256, hex | the whole endpoint secret string (`whsec_…`) |
//! | [`StandardWebhooksVerifier`] | `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> …` | `{id}.{timestamp}.{body}`, HMAC-SHA256, base64 | base64-decoded part after `whsec_` |
//! | [`GithubVerifier`] | `X-Hub-Signature-256: sha256=<hex>` | `{body}`, HMAC-SHA256, hex | the secret string |
//! | [`SendgridVerifier`] | `X-Twilio-Email-Event-Webhook-Signature` (base64 DER), `…-Timestamp` | `{timestamp}{body}`, ECDSA P-256 / SHA-256 | the public key (base64 DER SPKI) |
//!
//! Every verifier:
//! - accepts several active secrets (or public keys) per endpoint, so a secret can be
//!   rolled without downtime: any one of them may verify;
//! - compares MACs in constant time ([`subtle`]);
//! - rejects a timestamp outside its tolerance (default [`DEFAULT_TOLERANCE`], 300 s)
//!   in *both* directions, old (replay) and future (clock skew or forged), except
//!   GitHub, whose scheme has no timestamp;
//! - answers a [`VerifyError`] on any bad input, never panics. The error's variant is
//!   for logs and metrics ([`VerifyError::reason`]); the client only ever sees
//!   [`VerifyError::public_message`] (`"invalid signature"`) with
//!   [`Provider::rejection_status`] (a 4xx, never a 5xx).
//!
//! [`Ingest`] is the whole request path: verify, deduplicate by event id and enqueue
//! atomically, acknowledge; see [`ingest`].
//!
//! Only once a request is [`Verified`] may its body be parsed: [`events`] reads the
//! event id and type from Stripe and SendGrid bodies.
//!
//! ```
//! use http::HeaderMap;
//! use seam_core::{ManualClock, SecretString};
//! use seam_webhooks::{GithubVerifier, WebhookVerifier};
//!
//! let verifier = GithubVerifier::new(vec![SecretString::from("It's a Secret to Everybody")]).unwrap();
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "x-hub-signature-256",
//!     "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".parse().unwrap(),
//! );
//! assert!(verifier.verify(&headers, b"Hello, World!").is_ok());
//! let error = verifier.verify(&headers, b"Hello, World?").unwrap_err();
//! assert_eq!(error.public_message(), "invalid signature");
//! ```

mod config;
mod error;
pub mod events;
pub mod github;
mod headers;
pub mod ingest;
mod mac;
pub mod sendgrid;
pub mod sign;
pub mod standard;
pub mod stripe;
mod telemetry;
mod time;

use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use config::{ConfigError, EndpointConfig};
pub use error::VerifyError;
pub use github::GithubVerifier;
pub use ingest::{Accepted, Ingest, IngestError, WebhookMessage};
pub use sendgrid::SendgridVerifier;
pub use standard::StandardWebhooksVerifier;
pub use stripe::StripeVerifier;
pub use telemetry::{RECEIVED_TOTAL, REJECTED_TOTAL, VERIFIED_TOTAL, record, verify_and_record};

/// The timestamp tolerance every scheme with a timestamp uses unless configured: 300 s,
/// Stripe's and Standard Webhooks' default.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Most signatures looked at in one header; more is refused as malformed, so a
/// crafted header cannot make one request cost thousands of comparisons.
pub const MAX_SIGNATURES: usize = 16;

/// Who sent a webhook, by signature scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Stripe (`Stripe-Signature`).
    Stripe,
    /// Any sender following the Standard Webhooks specification (Svix and others).
    StandardWebhooks,
    /// GitHub (`X-Hub-Signature-256`).
    Github,
    /// SendGrid's Event Webhook (signed with ECDSA).
    Sendgrid,
}

impl Provider {
    /// A short, stable, lower-case name, for metric labels and URLs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::StandardWebhooks => "standard_webhooks",
            Self::Github => "github",
            Self::Sendgrid => "sendgrid",
        }
    }

    /// The HTTP status to answer a request that failed verification:
    ///
    /// - Stripe: `400` (Stripe's webhook guide answers a failed check with 400);
    /// - Standard Webhooks: `400` (the Svix / Standard Webhooks examples answer 400);
    /// - GitHub: `401` (GitHub's and Octokit's verification examples answer 401);
    /// - SendGrid: `400` (SendGrid documents no status; 400, as for the other schemes).
    ///
    /// Never a 5xx nor a 429: a forged or stale request is the sender's fault, and must
    /// not look like an outage of ours on dashboards, alerts or a circuit breaker.
    pub fn rejection_status(&self) -> u16 {
        match self {
            Self::Stripe | Self::StandardWebhooks | Self::Sendgrid => 400,
            Self::Github => 401,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a successful verification knows about the request, read from its (now
/// trusted) headers. The body is not parsed; see [`events`] for that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The scheme that verified the request.
    pub provider: Provider,
    /// The delivery's id when the scheme puts one in a header: `webhook-id` (Standard
    /// Webhooks), `X-GitHub-Delivery` (GitHub). Stripe and SendGrid carry it in the
    /// body: see [`events`].
    pub event_id: Option<String>,
    /// The event type when the scheme puts it in a header: `X-GitHub-Event` (GitHub).
    pub event_type: Option<String>,
    /// The signed timestamp, for the schemes that have one (all but GitHub).
    pub timestamp: Option<DateTime<Utc>>,
    /// Which configured secret (or public key) verified the request, by its position in
    /// the configuration: during a rotation, shows when the old one stops being used.
    pub key_index: usize,
}

/// Verifies an inbound webhook's signature over its raw body.
///
/// # Contract
///
/// - `verify` MUST be called with the body exactly as received (no JSON round trip,
///   no re-encoding) and MUST NOT parse the body.
/// - It MUST return `Ok` only when a signature in the headers matches one of the
///   configured secrets (or public keys) over the scheme's signed content, and, for
///   schemes with a timestamp, that timestamp is within the tolerance of the clock in
///   either direction.
/// - It MUST return [`VerifyError::MissingHeader`] when a required header is absent,
///   [`VerifyError::MalformedHeader`] when a header cannot be read (empty, not ASCII,
///   duplicated, bad number, bad hex/base64, too many signatures),
///   [`VerifyError::TimestampOutOfTolerance`] for a timestamp too old or too far in
///   the future, [`VerifyError::NoSupportedSignature`] when the header holds no
///   signature of a version this verifier supports, and
///   [`VerifyError::NoMatchingSignature`] otherwise.
/// - It MUST NOT panic, whatever the headers and body.
pub trait WebhookVerifier: Debug + Send + Sync + 'static {
    /// The scheme this verifier checks.
    fn provider(&self) -> Provider;

    /// Checks the request's signature; see the trait's contract.
    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Verified, VerifyError>;
}

/// A verifier as a trait object.
pub type DynWebhookVerifier = dyn WebhookVerifier;

impl<T: WebhookVerifier + ?Sized> WebhookVerifier for Arc<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        (**self).verify(headers, body)
    }
}

impl<T: WebhookVerifier + ?Sized> WebhookVerifier for Box<T> {
    fn provider(&self) -> Provider {
        (**self).provider()
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Verified, VerifyError> {
        (**self).verify(headers, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_statuses_are_final_4xx() {
        for provider in [
            Provider::Stripe,
            Provider::StandardWebhooks,
            Provider::Github,
            Provider::Sendgrid,
        ] {
            let status = provider.rejection_status();
            assert!((400..500).contains(&status), "{provider}: {status}");
            assert_ne!(status, 429, "{provider}: a 429 invites a retry");
        }
    }

    #[test]
    fn provider_names_round_trip_through_serde() {
        let provider: Provider = serde_json::from_str("\"standard_webhooks\"").unwrap();
        assert_eq!(provider, Provider::StandardWebhooks);
        assert_eq!(provider.as_str(), "standard_webhooks");
    }
}
