//! The outbox relay: from committed outbox rows to the broker, with confirms.

use std::sync::Arc;
use std::time::Duration;

use seam_queue::{Envelope, Publisher};
use seam_repository::{OutboxRecord, OutboxStore};
use tokio_util::sync::CancellationToken;

use crate::error::Result;

/// How the relay works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Rows claimed per round.
    pub batch: u32,
    /// How long a claimed row stays reserved for this relay (a crashed relay's rows are
    /// claimed again after it).
    pub lease: Duration,
    /// The longest wait for new rows when there is no notification.
    pub idle_wait: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch: 100,
            lease: Duration::from_secs(30),
            idle_wait: Duration::from_millis(100),
        }
    }
}

/// Publishes pending outbox rows and marks them sent once the broker confirmed.
///
/// Several relays may run at once: claims are leased, so a row goes to one relay at a
/// time; a row whose publish failed is released for a later round.
#[derive(Debug, Clone)]
pub struct OutboxRelay {
    store: Arc<dyn OutboxStore>,
    publisher: Arc<dyn Publisher>,
    config: RelayConfig,
}

impl OutboxRelay {
    /// A relay from `store` to `publisher`.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        publisher: Arc<dyn Publisher>,
        config: RelayConfig,
    ) -> Self {
        Self {
            store,
            publisher,
            config,
        }
    }

    /// Claims one batch and publishes it; returns how many rows were published.
    ///
    /// # Errors
    ///
    /// The outbox store's errors. A failed publish is not an error of the round: the
    /// row is released with the error recorded and retried later.
    pub async fn relay_once(&self) -> Result<usize> {
        let records = self
            .store
            .claim(self.config.batch, self.config.lease)
            .await?;
        let mut published = Vec::with_capacity(records.len());
        for record in &records {
            let envelope = envelope_of(record);
            match self
                .publisher
                .publish(&record.message.routing_key, &envelope)
                .await
            {
                Ok(()) => published.push(record.message.id),
                Err(error) => {
                    tracing::warn!(
                        message_id = %record.message.id,
                        routing_key = %record.message.routing_key,
                        error.message = %error,
                        "outbox publish failed; will retry"
                    );
                    metrics::counter!("seam_outbox_publish_failures_total").increment(1);
                    self.store
                        .release(record.message.id, &error.to_string())
                        .await?;
                }
            }
        }
        if !published.is_empty() {
            self.store.mark_published(&published).await?;
            metrics::counter!("seam_outbox_published_total").increment(published.len() as u64);
        }
        Ok(published.len())
    }

    /// Relays until `cancel` fires: a round, then, when it found nothing, a wait for a
    /// notification of new rows (or `idle_wait`). Store errors are logged and retried
    /// after a pause.
    pub async fn run(self, cancel: CancellationToken) {
        tracing::info!("outbox relay running");
        while !cancel.is_cancelled() {
            let round = tokio::select! {
                () = cancel.cancelled() => break,
                round = self.relay_once() => round,
            };
            match round {
                Ok(0) => {
                    if let Ok(backlog) = self.store.backlog().await {
                        metrics::gauge!("seam_outbox_backlog").set(backlog as f64);
                    }
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        _ = self.store.wait_for_work(self.config.idle_wait) => {}
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error.message = %error, "outbox relay round failed");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        tracing::info!("outbox relay stopped");
    }
}

fn envelope_of(record: &OutboxRecord) -> Envelope {
    let message = &record.message;
    let mut envelope = Envelope::new(message.message_type.clone(), message.payload.clone())
        .with_schema_version(message.schema_version)
        .with_correlation_id(message.correlation_id)
        .with_occurred_at(message.occurred_at);
    // The outbox row id is the message id: consumers deduplicate on it, so a row
    // published twice (crash between publish and mark) is processed once.
    envelope.message_id = message.id;
    envelope.causation_id = message.causation_id;
    if let Some(traceparent) = &message.traceparent {
        envelope = envelope.with_traceparent(traceparent.clone());
    }
    envelope
}
