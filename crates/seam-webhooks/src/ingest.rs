//! The ingest path of an inbound webhook: verify the raw body -> read the event id ->
//! deduplicate and enqueue in one atomic step ([`UniquePublisher`](seam_queue::UniquePublisher)) -> acknowledge.
//!
//! Nothing slow happens here: no database write besides the queue's own deduplicating
//! insert, no call to another service. Processing is the worker's job, from the queue
//! [`WEBHOOKS_QUEUE`] (bound to `webhook.#`), with the [`WebhookMessage`] as payload.
//!
//! Deduplication keys are `{provider}:{event id}`, remembered for
//! [`DEFAULT_DEDUPE_TTL`] (7 days: providers retry for up to 3 days) unless configured:
//!
//! | provider | event id | event type |
//! | --- | --- | --- |
//! | Stripe | body `id` (`evt_…`) | body `type` |
//! | Standard Webhooks | `webhook-id` header | body `type`, when present |
//! | GitHub | `X-GitHub-Delivery` header | `X-GitHub-Event` header |
//! | SendGrid | `batch-<SHA-256 of the body>` (a batch is retried whole) | `batch` |
//!
//! # Design
//!
//! - **Atomic dedupe + enqueue** ([`UniquePublisher::publish_unique`](seam_queue::UniquePublisher::publish_unique)):
//!   on Redis one Lua script (`SET {prefix}:dedupe:{key} NX PX ttl` + `XADD` to every
//!   routed stream); on SQL one transaction (`queue_dedupe` insert `ON CONFLICT` + the
//!   queue rows); in memory one lock. A crash between the two steps cannot lose an event
//!   (the key is never kept without the message) nor enqueue it twice.
//! - **Which queue**: `webhooks.queue = "same"` (default) uses the configured `[queue]`
//!   backend, SQL in the embedded default; `"redis"` a Redis Streams queue of its own
//!   (the production profile). AMQP cannot deduplicate atomically and is refused.
//! - **Answers**: 202 `{"status":"accepted"}` for a new event, 200
//!   `{"status":"duplicate"}` for a redelivery, the scheme's 400/401 "invalid signature",
//!   415 for a non-JSON content type, 413 over the body limit, 404 for an unknown or
//!   unconfigured provider, 503 when the queue fails (the provider retries).
//! - **Event log** (`webhook_events`): written by the worker at each attempt (upsert by
//!   provider and event id: status, attempts, last error, processing time), with the
//!   verified raw body, so `seam webhooks replay ID` re-enqueues it from the log (marked
//!   as a replay, bypassing the dedupe key) rather than from the queue's dead letters,
//!   which a purge or the Redis stream cap may have dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use seam_queue::{DynUniquePublisher, Envelope, Published, QueueBinding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Provider, VerifyError, WebhookVerifier, events, verify_and_record};

/// The queue the worker consumes webhook events from.
pub const WEBHOOKS_QUEUE: &str = "webhooks";
/// The routing-key pattern of webhook events: `webhook.{provider}`.
pub const WEBHOOKS_PATTERN: &str = "webhook.#";
/// How long an event id is remembered by default: 7 days.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Duplicate deliveries acknowledged without enqueueing: `seam_webhooks_duplicate_total{provider}`.
pub const DUPLICATE_TOTAL: &str = "seam_webhooks_duplicate_total";
/// Events enqueued: `seam_webhooks_enqueued_total{provider}`.
pub const ENQUEUED_TOTAL: &str = "seam_webhooks_enqueued_total";

/// The binding that routes webhook events to [`WEBHOOKS_QUEUE`].
pub fn binding() -> QueueBinding {
    QueueBinding::new(WEBHOOKS_QUEUE, WEBHOOKS_PATTERN)
}

/// The routing key (also the message type) of `provider`'s events.
pub fn routing_key(provider: Provider) -> String {
    format!("webhook.{}", provider.as_str())
}

/// The provider named by a URL segment: `stripe`, `github`, `sendgrid`, `standard`
/// (or `standard_webhooks`).
pub fn provider_from_path(segment: &str) -> Option<Provider> {
    Some(match segment {
        "stripe" => Provider::Stripe,
        "github" => Provider::Github,
        "sendgrid" => Provider::Sendgrid,
        "standard" | "standard_webhooks" => Provider::StandardWebhooks,
        _ => return None,
    })
}

/// What travels on the queue: a verified event with its raw body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// Who sent it.
    pub provider: Provider,
    /// The provider's event id (see the module table).
    pub event_id: String,
    /// The event type (see the module table).
    pub event_type: String,
    /// When the endpoint accepted it.
    pub received_at: DateTime<Utc>,
    /// The verified body, exactly as received (UTF-8 JSON).
    pub body: String,
    /// Set on an operator's replay (`seam webhooks replay`): processed again even when
    /// the event log says it was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
}

impl WebhookMessage {
    /// The envelope to publish it in, typed `webhook.{provider}`.
    pub fn envelope(&self) -> Envelope {
        let mut envelope = Envelope::new(routing_key(self.provider), serde_json::Value::Null);
        envelope.payload = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        envelope
    }

    /// The deduplication key: `{provider}:{event id}`.
    pub fn dedupe_key(&self) -> String {
        format!("{}:{}", self.provider.as_str(), self.event_id)
    }
}

/// What became of an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A new event: enqueued.
    New {
        /// Its id.
        event_id: String,
    },
    /// An event already enqueued within the deduplication TTL: acknowledged, not enqueued.
    Duplicate {
        /// Its id.
        event_id: String,
    },
}

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// No endpoint is configured for the provider.
    #[error("no webhook endpoint is configured for {0}")]
    NotConfigured(Provider),
    /// The signature did not verify (answer [`Provider::rejection_status`], "invalid signature").
    #[error("{provider}: {source}")]
    Rejected {
        /// The provider.
        provider: Provider,
        /// Why, for logs only.
        #[source]
        source: VerifyError,
    },
    /// The verified body is not the JSON the provider sends (answer 400).
    #[error("{provider}: {message}")]
    Unreadable {
        /// The provider.
        provider: Provider,
        /// What is wrong.
        message: String,
    },
    /// The queue refused or failed (answer 503: the provider retries).
    #[error("enqueueing the event failed: {0}")]
    Queue(#[from] seam_queue::Error),
}

/// The verifiers of the configured endpoints and the queue they hand events to.
#[derive(Debug, Clone)]
pub struct Ingest {
    verifiers: Arc<HashMap<Provider, Box<dyn WebhookVerifier>>>,
    publisher: Arc<DynUniquePublisher>,
    dedupe_ttl: Duration,
}

impl Ingest {
    /// Ingest with `verifiers` (one per provider; the last wins), publishing to `publisher`.
    pub fn new(
        verifiers: Vec<Box<dyn WebhookVerifier>>,
        publisher: Arc<DynUniquePublisher>,
        dedupe_ttl: Duration,
    ) -> Self {
        let verifiers = verifiers
            .into_iter()
            .map(|verifier| (verifier.provider(), verifier))
            .collect();
        Self {
            verifiers: Arc::new(verifiers),
            publisher,
            dedupe_ttl,
        }
    }

    /// Whether an endpoint is configured for `provider`.
    pub fn accepts(&self, provider: Provider) -> bool {
        self.verifiers.contains_key(&provider)
    }

    /// Verifies, deduplicates and enqueues one request; see the module documentation.
    ///
    /// # Errors
    ///
    /// [`IngestError`]: each variant says what to answer.
    #[tracing::instrument(skip_all, fields(provider = %provider, event_id))]
    pub async fn ingest(
        &self,
        provider: Provider,
        headers: &HeaderMap,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<Accepted, IngestError> {
        let verifier = self
            .verifiers
            .get(&provider)
            .ok_or(IngestError::NotConfigured(provider))?;
        let verified = verify_and_record(verifier.as_ref(), headers, body)
            .map_err(|source| IngestError::Rejected { provider, source })?;
        let unreadable = |message: String| IngestError::Unreadable { provider, message };
        let text = std::str::from_utf8(body)
            .map_err(|_| unreadable("the body is not UTF-8".to_owned()))?;
        let (event_id, event_type) = match provider {
            Provider::Stripe => {
                let event = events::stripe_event(body).map_err(|e| unreadable(e.to_string()))?;
                (event.id, event.event_type)
            }
            Provider::Sendgrid => {
                events::sendgrid_events(body).map_err(|e| unreadable(e.to_string()))?;
                let digest = Sha256::digest(body);
                (format!("batch-{}", hex::encode(digest)), "batch".to_owned())
            }
            Provider::StandardWebhooks | Provider::Github => {
                let id = verified
                    .event_id
                    .clone()
                    .ok_or_else(|| unreadable("the delivery id header is missing".to_owned()))?;
                let event_type = match verified.event_type.clone() {
                    Some(event_type) => event_type,
                    None => serde_json::from_slice::<serde_json::Value>(body)
                        .map_err(|e| unreadable(format!("the body is not JSON: {e}")))?
                        .get("type")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("unknown")
                        .to_owned(),
                };
                (id, event_type)
            }
        };
        if event_id.trim().is_empty() || event_id.len() > 255 {
            return Err(unreadable("the event id is blank or too long".to_owned()));
        }
        tracing::Span::current().record("event_id", event_id.as_str());
        let message = WebhookMessage {
            provider,
            event_id,
            event_type,
            received_at,
            body: text.to_owned(),
            replay: false,
        };
        let published = self
            .publisher
            .publish_unique(
                &message.dedupe_key(),
                self.dedupe_ttl,
                &routing_key(provider),
                &message.envelope(),
            )
            .await?;
        let name = provider.as_str();
        Ok(match published {
            Published::New => {
                metrics::counter!(ENQUEUED_TOTAL, "provider" => name).increment(1);
                Accepted::New {
                    event_id: message.event_id,
                }
            }
            Published::Duplicate => {
                metrics::counter!(DUPLICATE_TOTAL, "provider" => name).increment(1);
                Accepted::Duplicate {
                    event_id: message.event_id,
                }
            }
        })
    }
}
