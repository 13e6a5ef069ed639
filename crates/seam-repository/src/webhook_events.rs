//! The webhook event log: one row per (provider, event id) with what processing it did,
//! written by the worker, read by operators (`GET /v1/webhook-events`, `seam webhooks`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::MAX_PAGE_SIZE;

/// The longest provider name or event id accepted, in bytes.
pub const MAX_WEBHOOK_KEY_LEN: usize = 255;

/// Where a webhook event is in its processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEventStatus {
    /// Accepted, not processed yet.
    Received,
    /// Processed successfully.
    Processed,
    /// The last attempt failed; it will be retried.
    Failed,
    /// A type nothing handles: logged and left alone.
    Ignored,
    /// Given up on: in the queue's dead letters.
    Dead,
}

impl WebhookEventStatus {
    /// The stored, lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Processed => "processed",
            Self::Failed => "failed",
            Self::Ignored => "ignored",
            Self::Dead => "dead",
        }
    }

    /// Whether processing is over for good (processed, ignored): a redelivery is skipped.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Processed | Self::Ignored)
    }
}

impl fmt::Display for WebhookEventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WebhookEventStatus {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Ok(match value {
            "received" => Self::Received,
            "processed" => Self::Processed,
            "failed" => Self::Failed,
            "ignored" => Self::Ignored,
            "dead" => Self::Dead,
            other => {
                return Err(Error::invalid(
                    "status",
                    format!(
                        "unknown webhook event status {other:?} (received, processed, failed, ignored, dead)"
                    ),
                ));
            }
        })
    }
}

/// One attempt at processing a webhook event, as the worker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// The provider (`stripe`, `github`, …).
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// What the attempt came to.
    pub status: WebhookEventStatus,
    /// When the API accepted the event.
    pub received_at: DateTime<Utc>,
    /// When this attempt finished.
    pub finished_at: DateTime<Utc>,
    /// The error of a failed attempt.
    pub error: Option<String>,
    /// How long this attempt took, in milliseconds.
    pub processing_ms: u64,
    /// The verified raw body, kept for replays.
    pub payload: String,
}

/// A webhook event as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The provider.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The outcome of the last attempt.
    pub status: WebhookEventStatus,
    /// How many attempts were made.
    pub attempts: u32,
    /// When the API accepted it (microsecond precision).
    pub received_at: DateTime<Utc>,
    /// When the last attempt finished (microsecond precision).
    pub processed_at: Option<DateTime<Utc>>,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub processing_ms: Option<u64>,
    /// The verified raw body.
    #[serde(skip_serializing)]
    pub payload: String,
}

/// Which events to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEventQuery {
    /// Only events with this status.
    pub status: Option<WebhookEventStatus>,
    /// Only events of this provider.
    pub provider: Option<String>,
    /// At most this many (1..=100).
    pub limit: usize,
}

impl Default for WebhookEventQuery {
    fn default() -> Self {
        Self {
            status: None,
            provider: None,
            limit: 50,
        }
    }
}

/// Checks an attempt before it is stored.
///
/// # Errors
///
/// [`Error::Invalid`] for a blank or over-long provider or event id, or a blank type.
pub fn check_webhook_attempt(attempt: &WebhookAttempt) -> Result<()> {
    for (field, value) in [
        ("provider", &attempt.provider),
        ("event_id", &attempt.event_id),
        ("event_type", &attempt.event_type),
    ] {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, "must not be blank"));
        }
        if value.len() > MAX_WEBHOOK_KEY_LEN {
            return Err(Error::invalid(
                field,
                format!("must be at most {MAX_WEBHOOK_KEY_LEN} bytes long"),
            ));
        }
    }
    Ok(())
}

fn check_query(query: &WebhookEventQuery) -> Result<()> {
    if query.limit == 0 || query.limit > MAX_PAGE_SIZE as usize {
        return Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok(())
}

/// The webhook event log.
///
/// # Contract
///
/// - `record` MUST upsert by (provider, event id): the first attempt creates the row with
///   `attempts = 1`; each later one increments `attempts` and replaces status, type,
///   `processed_at` (the attempt's `finished_at`), `last_error`, `processing_ms` and
///   payload, keeping the first `received_at`. It returns the row as `get` will, and
///   MUST return `Error::Invalid` for what [`check_webhook_attempt`] refuses.
/// - `get` MUST return `Error::NotFound` for an unknown (provider, event id).
/// - `list` MUST filter by status and provider when given, return the newest
///   `received_at` first (ties by provider, then event id), and return `Error::Invalid`
///   for a limit outside 1..=100.
#[async_trait]
pub trait WebhookEventLog: fmt::Debug + Send + Sync + 'static {
    /// Records one processing attempt.
    async fn record(&self, attempt: &WebhookAttempt) -> Result<WebhookEvent>;

    /// One logged event.
    async fn get(&self, provider: &str, event_id: &str) -> Result<WebhookEvent>;

    /// Logged events, newest first.
    async fn list(&self, query: &WebhookEventQuery) -> Result<Vec<WebhookEvent>>;
}

/// A webhook event log as a trait object.
pub type DynWebhookEventLog = dyn WebhookEventLog;

#[async_trait]
impl<T: WebhookEventLog + ?Sized> WebhookEventLog for Arc<T> {
    async fn record(&self, attempt: &WebhookAttempt) -> Result<WebhookEvent> {
        (**self).record(attempt).await
    }
    async fn get(&self, provider: &str, event_id: &str) -> Result<WebhookEvent> {
        (**self).get(provider, event_id).await
    }
    async fn list(&self, query: &WebhookEventQuery) -> Result<Vec<WebhookEvent>> {
        (**self).list(query).await
    }
}

/// The next state of a logged event after `attempt` (shared by the adapters).
pub fn apply_webhook_attempt(
    existing: Option<&WebhookEvent>,
    attempt: &WebhookAttempt,
) -> WebhookEvent {
    WebhookEvent {
        provider: attempt.provider.clone(),
        event_id: attempt.event_id.clone(),
        event_type: attempt.event_type.clone(),
        status: attempt.status,
        attempts: existing.map_or(1, |event| event.attempts.saturating_add(1)),
        received_at: existing.map_or_else(
            || attempt.received_at.trunc_subsecs(6),
            |event| event.received_at,
        ),
        processed_at: Some(attempt.finished_at.trunc_subsecs(6)),
        last_error: attempt.error.clone(),
        processing_ms: Some(attempt.processing_ms),
        payload: attempt.payload.clone(),
    }
}

/// The event log in memory (the fake for tests and the memory default).
#[derive(Debug, Clone, Default)]
pub struct MemoryWebhookEvents {
    events: Arc<Mutex<BTreeMap<(String, String), WebhookEvent>>>,
}

impl MemoryWebhookEvents {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn events(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), WebhookEvent>> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl WebhookEventLog for MemoryWebhookEvents {
    async fn record(&self, attempt: &WebhookAttempt) -> Result<WebhookEvent> {
        check_webhook_attempt(attempt)?;
        let mut events = self.events();
        let key = (attempt.provider.clone(), attempt.event_id.clone());
        let next = apply_webhook_attempt(events.get(&key), attempt);
        events.insert(key, next.clone());
        Ok(next)
    }

    async fn get(&self, provider: &str, event_id: &str) -> Result<WebhookEvent> {
        self.events()
            .get(&(provider.to_owned(), event_id.to_owned()))
            .cloned()
            .ok_or_else(|| Error::not_found("webhook event", format!("{provider} {event_id}")))
    }

    async fn list(&self, query: &WebhookEventQuery) -> Result<Vec<WebhookEvent>> {
        check_query(query)?;
        let mut found: Vec<WebhookEvent> = self
            .events()
            .values()
            .filter(|event| query.status.is_none_or(|status| event.status == status))
            .filter(|event| {
                query
                    .provider
                    .as_deref()
                    .is_none_or(|provider| event.provider == provider)
            })
            .cloned()
            .collect();
        found.sort_by(|a, b| {
            b.received_at
                .cmp(&a.received_at)
                .then_with(|| a.provider.cmp(&b.provider))
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        found.truncate(query.limit);
        Ok(found)
    }
}

/// The checks of [`WebhookEventLog`]'s contract, for every adapter's tests.
#[cfg(any(test, feature = "conformance"))]
pub async fn webhook_events_conformance(log: &dyn WebhookEventLog) {
    let provider = format!("conf-{}", uuid::Uuid::now_v7().simple());
    let received_at = Utc::now().trunc_subsecs(6);
    let attempt = |event_id: &str, status, error: Option<&str>| WebhookAttempt {
        provider: provider.clone(),
        event_id: event_id.to_owned(),
        event_type: "payment_intent.succeeded".to_owned(),
        status,
        received_at,
        finished_at: Utc::now(),
        error: error.map(str::to_owned),
        processing_ms: 7,
        payload: r#"{"id":"evt"}"#.to_owned(),
    };
    let first = log
        .record(&attempt("evt_1", WebhookEventStatus::Failed, Some("boom")))
        .await
        .expect("record");
    assert_eq!(first.attempts, 1);
    assert_eq!(first.status, WebhookEventStatus::Failed);
    assert_eq!(first.last_error.as_deref(), Some("boom"));
    let second = log
        .record(&attempt("evt_1", WebhookEventStatus::Processed, None))
        .await
        .expect("record again");
    assert_eq!(second.attempts, 2);
    assert_eq!(second.status, WebhookEventStatus::Processed);
    assert_eq!(second.last_error, None);
    assert_eq!(second.received_at, received_at);
    assert_eq!(log.get(&provider, "evt_1").await.expect("get"), second);
    assert!(matches!(
        log.get(&provider, "evt_missing").await,
        Err(Error::NotFound { .. })
    ));
    log.record(&attempt("evt_2", WebhookEventStatus::Ignored, None))
        .await
        .expect("record");
    let ignored = log
        .list(&WebhookEventQuery {
            status: Some(WebhookEventStatus::Ignored),
            provider: Some(provider.clone()),
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(ignored.len(), 1);
    assert_eq!(ignored[0].event_id, "evt_2");
    let all = log
        .list(&WebhookEventQuery {
            status: None,
            provider: Some(provider.clone()),
            limit: 10,
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 2);
    assert!(matches!(
        log.list(&WebhookEventQuery {
            limit: 0,
            ..WebhookEventQuery::default()
        })
        .await,
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        log.record(&attempt(" ", WebhookEventStatus::Processed, None))
            .await,
        Err(Error::Invalid { .. })
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_log_honours_the_contract() {
        webhook_events_conformance(&MemoryWebhookEvents::new()).await;
    }

    #[test]
    fn statuses_round_trip() {
        for status in [
            WebhookEventStatus::Received,
            WebhookEventStatus::Processed,
            WebhookEventStatus::Failed,
            WebhookEventStatus::Ignored,
            WebhookEventStatus::Dead,
        ] {
            assert_eq!(
                status.as_str().parse::<WebhookEventStatus>().unwrap(),
                status
            );
        }
        assert!("done".parse::<WebhookEventStatus>().is_err());
    }
}
