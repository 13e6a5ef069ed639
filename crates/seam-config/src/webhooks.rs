//! `[webhooks]`: the inbound webhook endpoints (secrets per provider), the request body
//! limit, how long event ids are remembered, and which queue carries the events.

use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::integrations::RedisQueueSettings;

/// Which queue webhook events go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookQueue {
    /// The configured `[queue]` backend (SQL in the embedded default). With AMQP, which
    /// cannot deduplicate and publish atomically, the database's table queue; with the
    /// memory backend, an in-process queue (API and worker in one process only).
    Same,
    /// A Redis Streams queue of its own, `[webhooks.redis]` (the production profile).
    Redis,
}

/// One provider's endpoint: its active secrets (several during a roll) or, for SendGrid,
/// public keys, and the timestamp tolerance.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookEndpointSettings {
    /// The active signing secrets (Stripe `whsec_…`, Standard Webhooks `whsec_<base64>`,
    /// GitHub). Any one may verify.
    pub secrets: Vec<SecretString>,
    /// SendGrid's verification public keys (base64 DER).
    pub public_keys: Vec<String>,
    /// How far a signed timestamp may be from now, either way.
    #[serde(with = "humantime_serde")]
    pub tolerance: Duration,
}

impl Default for WebhookEndpointSettings {
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            public_keys: Vec::new(),
            tolerance: Duration::from_secs(300),
        }
    }
}

/// `[webhooks]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// The queue carrying webhook events to the worker.
    pub queue: WebhookQueue,
    /// The largest webhook body accepted (413 above). Default 256 KiB.
    pub body_limit_bytes: usize,
    /// How long an event id is remembered to refuse redeliveries. Default 7 days
    /// (providers retry for up to 3 days).
    #[serde(with = "humantime_serde")]
    pub dedupe_ttl: Duration,
    /// The Redis queue used when `queue = "redis"`.
    pub redis: RedisQueueSettings,
    /// `POST /webhooks/stripe`; absent: the endpoint answers 404.
    pub stripe: Option<WebhookEndpointSettings>,
    /// `POST /webhooks/github`.
    pub github: Option<WebhookEndpointSettings>,
    /// `POST /webhooks/standard` (Standard Webhooks senders).
    pub standard: Option<WebhookEndpointSettings>,
    /// `POST /webhooks/sendgrid` (the SendGrid Event Webhook).
    pub sendgrid: Option<WebhookEndpointSettings>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            queue: WebhookQueue::Same,
            body_limit_bytes: 256 * 1024,
            dedupe_ttl: Duration::from_secs(7 * 24 * 3600),
            redis: RedisQueueSettings::default(),
            stripe: None,
            github: None,
            standard: None,
            sendgrid: None,
        }
    }
}

impl WebhookSettings {
    /// The configured endpoints, by the provider's URL segment.
    pub fn endpoints(&self) -> Vec<(&'static str, &WebhookEndpointSettings)> {
        [
            ("stripe", &self.stripe),
            ("github", &self.github),
            ("standard", &self.standard),
            ("sendgrid", &self.sendgrid),
        ]
        .into_iter()
        .filter_map(|(name, endpoint)| endpoint.as_ref().map(|endpoint| (name, endpoint)))
        .collect()
    }

    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.body_limit_bytes == 0 || self.body_limit_bytes > 10 * 1024 * 1024 {
            problems.push(format!(
                "`webhooks.body_limit_bytes`: must be between 1 and 10485760, found {}",
                self.body_limit_bytes
            ));
        }
        if self.dedupe_ttl < Duration::from_secs(60) {
            problems.push(
                "`webhooks.dedupe_ttl`: at least 1 minute (providers retry for days; 7d is the default)"
                    .to_owned(),
            );
        }
        for (name, endpoint) in self.endpoints() {
            let keys = if name == "sendgrid" {
                endpoint.public_keys.len()
            } else {
                endpoint.secrets.len()
            };
            if keys == 0 {
                let what = if name == "sendgrid" {
                    "public_keys"
                } else {
                    "secrets"
                };
                problems.push(format!(
                    "`webhooks.{name}.{what}`: at least one is needed to verify requests"
                ));
            }
            if endpoint
                .secrets
                .iter()
                .any(|secret| secret.expose_secret().trim().is_empty())
            {
                problems.push(format!("`webhooks.{name}.secrets`: a secret is empty"));
            }
            if endpoint.tolerance < Duration::from_secs(1) {
                problems.push(format!("`webhooks.{name}.tolerance`: at least 1 s"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_endpoints_need_secrets() {
        let mut settings = WebhookSettings::default();
        assert!(settings.problems().is_empty());
        assert_eq!(settings.body_limit_bytes, 262_144);
        settings.stripe = Some(WebhookEndpointSettings::default());
        let problems = settings.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("webhooks.stripe.secrets"),
            "{problems:?}"
        );
    }

    #[test]
    fn reads_from_toml_shaped_json() {
        let settings: WebhookSettings = serde_json::from_value(serde_json::json!({
            "queue": "redis",
            "dedupe_ttl": "3d",
            "stripe": { "secrets": ["whsec_a", "whsec_b"], "tolerance": "10m" }
        }))
        .unwrap();
        assert_eq!(settings.queue, WebhookQueue::Redis);
        assert_eq!(settings.dedupe_ttl, Duration::from_secs(3 * 24 * 3600));
        let stripe = settings.stripe.unwrap();
        assert_eq!(stripe.secrets.len(), 2);
        assert_eq!(stripe.tolerance, Duration::from_secs(600));
    }
}
