//! Delivering the sandbox's events over HTTP, to the service's real webhook endpoint.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use seam_payments::{Error, Result};

use crate::{EventSink, SIGNATURE_HEADER, SandboxEvent};

/// Posts each event to a webhook URL as Stripe does: `POST`, `Content-Type:
/// application/json`, the raw event as body and the `Stripe-Signature` header.
///
/// [`deliver`](EventSink::deliver) hands the post to a Tokio task and returns at once,
/// so a payment call never waits for (or deadlocks on) the endpoint it notifies; like
/// Stripe, deliveries are therefore not ordered. A delivery that fails (connection
/// refused, non-2xx answer) is retried with exponential backoff, `attempts` times in all.
#[derive(Debug, Clone)]
pub struct HttpEventSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: reqwest::Client,
    url: Url,
    attempts: u32,
    backoff: Duration,
}

impl HttpEventSink {
    /// Posts to `url` (`http://127.0.0.1:8080/webhooks/stripe`), 5 attempts from 500 ms apart.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `url` is not an `http(s)` URL.
    pub fn new(url: &str) -> Result<Self> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|parsed| matches!(parsed.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::invalid(format!(
                    "sandbox configuration: `webhook_url` {url:?} must be an http(s) URL"
                ))
            })?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| Error::invalid(format!("sandbox webhook HTTP client: {error}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                url: parsed,
                attempts: 5,
                backoff: Duration::from_millis(500),
            }),
        })
    }

    /// Sets the number of attempts in all (at least 1) and the first backoff.
    pub fn with_retries(self, attempts: u32, backoff: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                client: self.inner.client.clone(),
                url: self.inner.url.clone(),
                attempts: attempts.max(1),
                backoff,
            }),
        }
    }

    /// Posts one event once, and answers the endpoint's status.
    ///
    /// # Errors
    ///
    /// [`Error::Transient`] when the endpoint cannot be reached.
    pub async fn send(&self, event: &SandboxEvent) -> Result<u16> {
        let mut request = self
            .inner
            .client
            .post(self.inner.url.clone())
            .header("content-type", "application/json")
            .body(event.provider_event_json.clone());
        if let Some(signature) = &event.signature_header {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        let response = request.send().await.map_err(|error| {
            Error::transient_from("sandbox webhook endpoint unreachable", error.without_url())
        })?;
        Ok(response.status().as_u16())
    }

    async fn send_with_retries(&self, event: SandboxEvent) {
        let mut backoff = self.inner.backoff;
        for attempt in 1..=self.inner.attempts {
            let outcome = self.send(&event).await;
            match outcome {
                Ok(status) if (200..300).contains(&status) => {
                    tracing::debug!(event_id = %event.event_id, status, attempt, "sandbox webhook delivered");
                    return;
                }
                Ok(status) => {
                    tracing::warn!(event_id = %event.event_id, status, attempt, "sandbox webhook refused");
                }
                Err(error) => {
                    tracing::warn!(event_id = %event.event_id, attempt, error.message = %error, "sandbox webhook not delivered");
                }
            }
            if attempt < self.inner.attempts {
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
            }
        }
        tracing::error!(event_id = %event.event_id, event_type = %event.event_type, attempts = self.inner.attempts, "sandbox webhook given up");
    }
}

#[async_trait]
impl EventSink for HttpEventSink {
    async fn deliver(&self, event: SandboxEvent) {
        let sink = self.clone();
        tokio::spawn(async move { sink.send_with_retries(event).await });
    }
}
