//! Processing inbound webhook events from the `webhooks` queue: each event is decoded,
//! dispatched by provider and type, and its outcome upserted into the event log.
//!
//! - Stripe: parsed with [`seam_payments::stripe_event::parse`]; payment events go to
//!   the [`PaymentEvents`] sink (the order system's payments, forward-only so out-of-order
//!   delivery never moves an order backwards); types the port does not model
//!   (`PaymentEventKind::Other`) are logged and marked `ignored`, not retried.
//! - SendGrid: the batch goes to [`EmailEventStores::apply_sendgrid`] when the handler
//!   has the e-mail event stores ([`WebhookHandler::with_email_events`]): bounces and
//!   complaints suppress their address, every event feeds `EmailService::status`.
//! - GitHub and Standard Webhooks events (and SendGrid without the stores): nothing
//!   consumes them yet; logged and marked `ignored`.
//! - An event the log shows `processed` or `ignored` is acknowledged without processing
//!   again (a redelivery after a crash, or after the dedupe TTL), unless it is an
//!   operator's replay.
//! - Failures: retryable kinds are retried by the [`ConsumerLoop`](seam_orders::ConsumerLoop)
//!   with exponential backoff and logged `failed`; after `queue.max_attempts`
//!   deliveries, or at once for a non-retryable error (an unparseable body), the message
//!   is dead-lettered and logged `dead`.
//!
//! Metrics: `seam_webhook_processing_seconds{provider,outcome}` (histogram).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::Utc;
use seam_core::Classify;
use seam_orders::{MessageHandler, OrdersError};
use seam_payments::{PaymentEvent, PaymentEventKind};
use seam_queue::Envelope;
use seam_repository::{WebhookAttempt, WebhookEventLog, WebhookEventStatus};
use seam_webhooks::{Provider, WebhookMessage};
use seam_wiring::email_events::EmailEventStores;

/// The processing-time histogram.
pub const PROCESSING_SECONDS: &str = "seam_webhook_processing_seconds";

/// What applying a payment event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentApplied {
    /// Applied (or found already applied): logged `processed`, with what was done.
    Done(String),
    /// Nothing to do (no order for the payment, a type not handled): logged `ignored`.
    Ignored(String),
}

/// Where verified payment events go: the order system's payments
/// ([`seam_orders::Payments`] implements it).
#[async_trait]
pub trait PaymentEvents: std::fmt::Debug + Send + Sync + 'static {
    /// Applies one payment event to the order it concerns.
    ///
    /// # Errors
    ///
    /// A retryable kind for a transient failure (retried), anything else dead-letters.
    async fn apply(&self, event: &PaymentEvent) -> Result<PaymentApplied, OrdersError>;
}

#[async_trait]
impl PaymentEvents for seam_orders::Payments {
    async fn apply(&self, event: &PaymentEvent) -> Result<PaymentApplied, OrdersError> {
        applied(self.apply_payment_event(event).await)
    }
}

/// A use-case result as the handler logs it.
fn applied(
    outcome: Result<seam_orders::EventOutcome, seam_orders::PaymentsError>,
) -> Result<PaymentApplied, OrdersError> {
    match outcome {
        Ok(seam_orders::EventOutcome::Ignored { reason }) => Ok(PaymentApplied::Ignored(reason)),
        Ok(outcome) => Ok(PaymentApplied::Done(format!("{outcome:?}"))),
        Err(seam_orders::PaymentsError::Repository(error)) => Err(error.into()),
        // `OrdersError` has no payments variant: the error travels with its kind, so
        // the consumer loop retries or dead-letters it as the payments use case says.
        Err(error) => {
            let kind = error.kind();
            Err(OrdersError::Queue(seam_queue::Error::backend(
                "payments", kind, error,
            )))
        }
    }
}

/// The payments use case, and the e-mail that tells the customer a payment failed.
///
/// The e-mail goes out when a `payment_failed` event moved the payment to `failed`, and
/// again when the same event comes back with the payment still `failed` (a retry after
/// the send failed, or an operator's replay): its message id is derived from the event
/// id, so adapters that deduplicate deliver it once.
#[derive(Debug)]
pub struct NotifyingPayments {
    payments: seam_orders::Payments,
    orders: Arc<seam_orders::OrderService>,
}

impl NotifyingPayments {
    /// `payments`, e-mailing through `orders`.
    pub fn new(payments: seam_orders::Payments, orders: Arc<seam_orders::OrderService>) -> Self {
        Self { payments, orders }
    }
}

#[async_trait]
impl PaymentEvents for NotifyingPayments {
    async fn apply(&self, event: &PaymentEvent) -> Result<PaymentApplied, OrdersError> {
        let outcome = self.payments.apply_payment_event(event).await;
        if let (PaymentEventKind::PaymentFailed { failure }, Ok(outcome)) = (&event.kind, &outcome)
        {
            let failed_order = match outcome {
                seam_orders::EventOutcome::Applied { order_id, status }
                    if *status == seam_payments::PaymentStatus::Failed =>
                {
                    Some(*order_id)
                }
                seam_orders::EventOutcome::Unchanged { order_id, status }
                    if status == seam_payments::PaymentStatus::Failed.as_str() =>
                {
                    Some(*order_id)
                }
                _ => None,
            };
            if let Some(order_id) = failed_order {
                self.orders
                    .send_payment_failed_email(order_id, &failure.message, &event.id)
                    .await?;
            }
        }
        applied(outcome)
    }
}

/// The `webhooks` queue's message handler.
pub struct WebhookHandler {
    events: Arc<dyn WebhookEventLog>,
    payments: Arc<dyn PaymentEvents>,
    email_events: Option<EmailEventStores>,
    max_attempts: u32,
}

impl std::fmt::Debug for WebhookHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookHandler")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

enum Outcome {
    Done(WebhookEventStatus, String),
    Failed(OrdersError),
}

impl WebhookHandler {
    /// A handler logging to `events` and applying payment events to `payments`;
    /// `max_attempts` is the consumer loop's, to log the last failure as `dead`.
    pub fn new(
        events: Arc<dyn WebhookEventLog>,
        payments: Arc<dyn PaymentEvents>,
        max_attempts: u32,
    ) -> Self {
        Self {
            events,
            payments,
            email_events: None,
            max_attempts,
        }
    }

    /// Applies SendGrid Event Webhook batches to these e-mail event stores.
    pub fn with_email_events(mut self, stores: EmailEventStores) -> Self {
        self.email_events = Some(stores);
        self
    }

    async fn dispatch(&self, message: &WebhookMessage) -> Outcome {
        if let (Provider::Sendgrid, Some(stores)) = (message.provider, &self.email_events) {
            return match stores
                .apply_sendgrid(message.body.as_bytes(), message.received_at)
                .await
            {
                Ok(done) => Outcome::Done(WebhookEventStatus::Processed, done.to_string()),
                Err(error) => Outcome::Failed(error.into()),
            };
        }
        match message.provider {
            Provider::Stripe => {
                let event = match seam_payments::stripe_event::parse(message.body.as_bytes()) {
                    Ok(event) => event,
                    Err(error) => {
                        return Outcome::Failed(OrdersError::Undecodable(format!(
                            "Stripe event {}: {error}",
                            message.event_id
                        )));
                    }
                };
                if let PaymentEventKind::Other { event_type } = &event.kind {
                    tracing::info!(event_id = %message.event_id, event_type, "Stripe event type not handled; ignored");
                    return Outcome::Done(
                        WebhookEventStatus::Ignored,
                        format!("ignored {event_type}"),
                    );
                }
                match self.payments.apply(&event).await {
                    Ok(PaymentApplied::Done(done)) => {
                        Outcome::Done(WebhookEventStatus::Processed, done)
                    }
                    Ok(PaymentApplied::Ignored(why)) => {
                        tracing::info!(event_id = %message.event_id, reason = %why, "payment event ignored");
                        Outcome::Done(WebhookEventStatus::Ignored, why)
                    }
                    Err(error) => Outcome::Failed(error),
                }
            }
            provider => {
                tracing::info!(
                    provider = %provider,
                    event_id = %message.event_id,
                    event_type = %message.event_type,
                    "no consumer for this provider's events; ignored"
                );
                Outcome::Done(
                    WebhookEventStatus::Ignored,
                    format!("ignored {provider} {}", message.event_type),
                )
            }
        }
    }
}

#[async_trait]
impl MessageHandler for WebhookHandler {
    async fn handle(&self, envelope: &Envelope) -> seam_orders::Result<String> {
        let message: WebhookMessage = envelope
            .decode()
            .map_err(|error| OrdersError::Undecodable(error.to_string()))?;
        let provider = message.provider.as_str();
        if !message.replay {
            match self.events.get(provider, &message.event_id).await {
                Ok(logged) if logged.status.is_settled() => {
                    return Ok(format!(
                        "{provider} {} already {}",
                        message.event_id, logged.status
                    ));
                }
                Ok(_) | Err(seam_repository::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        let started = Instant::now();
        let outcome = self.dispatch(&message).await;
        let elapsed = started.elapsed();
        let (status, error, result) = match outcome {
            Outcome::Done(status, done) => (status, None, Ok(done)),
            Outcome::Failed(error) => {
                let kind = error.kind();
                // The loop counts deliveries; the envelope's attempt is the retries so far.
                let last = envelope.attempt.saturating_add(1) >= self.max_attempts;
                let status = if kind.is_retryable() && !last {
                    WebhookEventStatus::Failed
                } else {
                    WebhookEventStatus::Dead
                };
                (status, Some(format!("{kind}: {error}")), Err(error))
            }
        };
        metrics::histogram!(PROCESSING_SECONDS, "provider" => provider, "outcome" => status.as_str())
            .record(elapsed.as_secs_f64());
        let attempt = WebhookAttempt {
            provider: provider.to_owned(),
            event_id: message.event_id.clone(),
            event_type: message.event_type.clone(),
            status,
            received_at: message.received_at,
            finished_at: Utc::now(),
            error,
            processing_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            payload: message.body.clone(),
        };
        // Logged before the ack: if this fails, the message is retried and logged then.
        self.events.record(&attempt).await?;
        result
    }
}

/// The queue lag gauge: `seam_webhook_queue_lag{queue="webhooks"}`.
pub const QUEUE_LAG: &str = "seam_webhook_queue_lag";

/// Sets [`QUEUE_LAG`] from the Redis queue's depth every `every`, until `cancel`.
pub async fn report_lag(
    queue: seam_queue_redis::RedisQueue,
    every: std::time::Duration,
    cancel: tokio_util::sync::CancellationToken,
) {
    loop {
        match queue.depth(seam_webhooks::ingest::WEBHOOKS_QUEUE).await {
            Ok(depth) => {
                #[allow(clippy::cast_precision_loss)]
                metrics::gauge!(QUEUE_LAG, "queue" => seam_webhooks::ingest::WEBHOOKS_QUEUE)
                    .set(depth as f64);
            }
            Err(error) => {
                tracing::debug!(error.message = %error, "cannot read the webhook queue depth")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
