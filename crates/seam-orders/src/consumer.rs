//! The consumer loop: receive, handle, then ack, retry later or dead-letter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use seam_core::Classify;
use seam_queue::{Consumer, Delivery, Envelope};
use tokio_util::sync::CancellationToken;

use crate::error::{OrdersError, Result};

/// Handles one message. Errors are classified: retryable kinds are retried later,
/// everything else is dead-lettered at once.
#[async_trait]
pub trait MessageHandler: Send + Sync + 'static {
    /// Processes one message; returns a short description of what was done, for logs.
    async fn handle(&self, envelope: &Envelope) -> Result<String>;
}

/// When to try a failed message again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Deliveries after which a message that still fails is dead-lettered.
    pub max_attempts: u32,
    /// The delay before the second delivery; doubled each time (with jitter).
    pub base_delay: Duration,
    /// The longest delay.
    pub max_delay: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl RetrySchedule {
    /// The delay after the `deliveries`-th failed delivery: exponential, capped, with
    /// "equal jitter" (half fixed, half random) so retries of a burst spread out.
    pub fn delay(&self, deliveries: u32) -> Duration {
        let exponent = deliveries.saturating_sub(1).min(20);
        let full = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        half + rand::rng().random_range(Duration::ZERO..=half)
    }
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Handled and acknowledged.
    Acked(String),
    /// Failed with a retryable error; redelivered after the delay.
    Retried {
        /// The error.
        error: String,
        /// The delay.
        after: Duration,
    },
    /// Moved to the dead-letter queue.
    DeadLettered(String),
}

/// Consumes one queue with one handler.
pub struct ConsumerLoop {
    consumer: Arc<dyn Consumer>,
    queue: String,
    handler: Arc<dyn MessageHandler>,
    schedule: RetrySchedule,
}

impl std::fmt::Debug for ConsumerLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsumerLoop")
            .field("queue", &self.queue)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

impl ConsumerLoop {
    /// A loop over `queue`.
    pub fn new(
        consumer: Arc<dyn Consumer>,
        queue: impl Into<String>,
        handler: Arc<dyn MessageHandler>,
        schedule: RetrySchedule,
    ) -> Self {
        Self {
            consumer,
            queue: queue.into(),
            handler,
            schedule,
        }
    }

    /// Waits up to `wait` for one message and processes it; `None` when none came.
    ///
    /// The message is acknowledged only after the handler succeeded (its transaction
    /// committed), so a crash before that delivers it again.
    ///
    /// # Errors
    ///
    /// The queue's errors (receiving or settling).
    pub async fn process_next(&self, wait: Duration) -> Result<Option<Processed>> {
        let Some(delivery) = self.consumer.receive(&self.queue, wait).await? else {
            return Ok(None);
        };
        Ok(Some(self.process(delivery).await?))
    }

    async fn process(&self, delivery: Delivery) -> Result<Processed> {
        let envelope = delivery.envelope().clone();
        let span = tracing::info_span!(
            "consume",
            queue = %self.queue,
            message_id = %envelope.message_id,
            message_type = %envelope.message_type,
            delivery = delivery.deliveries(),
        );
        let _entered = span.enter();
        drop(_entered);
        let result = self.handler.handle(&envelope).await;
        let queue = self.queue.clone();
        match result {
            Ok(done) => {
                delivery.ack().await?;
                metrics::counter!("seam_messages_processed_total", "queue" => queue, "outcome" => "acked").increment(1);
                Ok(Processed::Acked(done))
            }
            Err(error) => {
                let kind = error.kind();
                let deliveries = delivery.deliveries();
                let detail = format!("{kind}: {error}");
                if kind.is_retryable() && deliveries < self.schedule.max_attempts {
                    let after = kind
                        .retry_after()
                        .unwrap_or_else(|| self.schedule.delay(deliveries));
                    tracing::warn!(
                        message_id = %envelope.message_id,
                        error.message = %error,
                        error.kind = %kind,
                        deliveries,
                        retry_in = ?after,
                        "message failed; will retry"
                    );
                    delivery.retry(after, &detail).await?;
                    metrics::counter!("seam_messages_processed_total", "queue" => queue, "outcome" => "retried").increment(1);
                    Ok(Processed::Retried {
                        error: detail,
                        after,
                    })
                } else {
                    let reason = if kind.is_retryable() {
                        format!("gave up after {deliveries} deliveries: {detail}")
                    } else {
                        detail
                    };
                    tracing::error!(
                        message_id = %envelope.message_id,
                        error.message = %error,
                        error.kind = %kind,
                        deliveries,
                        "message dead-lettered"
                    );
                    delivery.dead_letter(&reason).await?;
                    metrics::counter!("seam_messages_processed_total", "queue" => queue, "outcome" => "dead_lettered").increment(1);
                    Ok(Processed::DeadLettered(reason))
                }
            }
        }
    }

    /// Runs `concurrency` workers until `cancel` fires; each finishes the message in
    /// hand before stopping. Queue errors are logged and retried after a pause.
    pub async fn run(self: Arc<Self>, concurrency: usize, cancel: CancellationToken) {
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..concurrency.max(1) {
            let this = Arc::clone(&self);
            let cancel = cancel.clone();
            workers.spawn(async move {
                while !cancel.is_cancelled() {
                    // Cancellation is checked between messages, never during one.
                    match this.process_next(Duration::from_millis(500)).await {
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(queue = %this.queue, error.message = %error, "consumer error");
                            tokio::select! {
                                () = cancel.cancelled() => {}
                                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                            }
                        }
                    }
                }
            });
        }
        while workers.join_next().await.is_some() {}
        tracing::info!(queue = %self.queue, "consumer stopped");
    }
}

/// Handles `order.created` with [`crate::OrderService::handle_order_created`].
#[async_trait]
impl MessageHandler for crate::OrderService {
    async fn handle(&self, envelope: &Envelope) -> Result<String> {
        match envelope.message_type.as_str() {
            crate::ORDER_CREATED => Ok(format!("{:?}", self.handle_order_created(envelope).await?)),
            crate::ORDER_CONFIRMED | crate::ORDER_REJECTED => {
                Ok(if self.send_order_email(envelope).await? {
                    "e-mail sent".to_owned()
                } else {
                    "duplicate".to_owned()
                })
            }
            other => Err(OrdersError::Undecodable(format!(
                "unknown message type {other:?}"
            ))),
        }
    }
}
