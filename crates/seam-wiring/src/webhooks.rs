//! `[webhooks]` -> the ingest path (verifiers + deduplicating publisher) for the API, the
//! webhook queue for the worker, and the event log for both and the CLI.
//!
//! The webhook queue is its own adapter instance bound only to `webhook.#` -> `webhooks`:
//! with `webhooks.queue = "same"` it is the configured `[queue]` backend over the same
//! database or Redis (SQL in the embedded default); with `"redis"` a Redis Streams queue
//! of `[webhooks.redis]` (the production profile), so a burst of webhooks never competes
//! with the order tables. With the AMQP backend, `"same"` means the database's table
//! queue: AMQP cannot deduplicate and publish in one atomic step.

use std::sync::Arc;

use seam_config::{QueueBackend, RedisQueueSettings, Settings, WebhookQueue};
use seam_core::SystemClock;
use seam_queue::{
    Consumer, DeadLetters, MemoryQueue, MemoryQueueConfig, MemoryUniquePublisher, Publisher,
    UniquePublisher,
};
use seam_queue_redis::RedisQueue;
use seam_repository::WebhookEventLog;
use seam_repository_sql::SqlWebhookEvents;
use seam_sql::Database;
use seam_webhooks::{EndpointConfig, Ingest, Provider, WebhookVerifier, ingest};

use crate::StartupError;

fn adapter_error(what: &'static str, error: impl std::fmt::Display) -> StartupError {
    StartupError::Adapter {
        what,
        message: error.to_string(),
    }
}

/// The webhook queue in its roles.
#[derive(Debug, Clone)]
pub struct WebhookQueuePorts {
    /// Deduplicating publisher (the API's ingest).
    pub unique: Arc<dyn UniquePublisher>,
    /// Plain publisher (replays).
    pub publisher: Arc<dyn Publisher>,
    /// The worker's consumer of [`ingest::WEBHOOKS_QUEUE`].
    pub consumer: Arc<dyn Consumer>,
    /// Its dead letters.
    pub dead_letters: Arc<dyn DeadLetters>,
    /// The Redis queue, when webhooks go through Redis (for the lag gauge).
    pub redis: Option<RedisQueue>,
}

/// What the services need for webhooks.
#[derive(Debug, Clone)]
pub struct WebhookComponents {
    /// The ingest path, with a verifier per configured endpoint.
    pub ingest: Ingest,
    /// The webhook queue.
    pub queue: WebhookQueuePorts,
    /// The event log.
    pub events: Arc<dyn WebhookEventLog>,
}

impl WebhookComponents {
    /// Builds the verifiers, queue and event log `[webhooks]` names.
    ///
    /// # Errors
    ///
    /// [`StartupError::Adapter`] for an endpoint whose secrets or keys are unusable, or a
    /// queue that cannot be reached.
    pub async fn build(settings: &Settings, database: &Database) -> Result<Self, StartupError> {
        let queue = queue(settings, database).await?;
        let ingest = Ingest::new(
            verifiers(settings)?,
            queue.unique.clone(),
            settings.webhooks.dedupe_ttl,
        );
        Ok(Self {
            ingest,
            queue,
            events: Arc::new(SqlWebhookEvents::new(database)),
        })
    }
}

/// The verifier of every configured endpoint.
///
/// # Errors
///
/// [`StartupError::Adapter`] naming the endpoint whose configuration is refused.
pub fn verifiers(settings: &Settings) -> Result<Vec<Box<dyn WebhookVerifier>>, StartupError> {
    settings
        .webhooks
        .endpoints()
        .into_iter()
        .map(|(name, endpoint)| {
            let provider = ingest::provider_from_path(name).unwrap_or(Provider::Stripe);
            EndpointConfig {
                provider,
                secrets: endpoint.secrets.clone(),
                public_keys: endpoint.public_keys.clone(),
                tolerance: endpoint.tolerance,
            }
            .build(SystemClock::shared())
            .map_err(|error| adapter_error("webhooks", error))
        })
        .collect()
}

async fn redis_queue(
    settings: &Settings,
    redis: &RedisQueueSettings,
) -> Result<WebhookQueuePorts, StartupError> {
    let config = seam_queue_redis::RedisQueueConfig {
        url: redis.url.clone(),
        key_prefix: redis.key_prefix.clone(),
        group: redis.group.clone(),
        bindings: vec![ingest::binding()],
        visibility_timeout: settings.queue.visibility_timeout,
        max_len: redis.max_len,
        ..seam_queue_redis::RedisQueueConfig::default()
    };
    let queue = config
        .connect()
        .await
        .map_err(|error| adapter_error("webhooks queue (redis)", error))?;
    let shared = Arc::new(queue.clone());
    Ok(WebhookQueuePorts {
        unique: shared.clone(),
        publisher: shared.clone(),
        consumer: shared.clone(),
        dead_letters: shared,
        redis: Some(queue),
    })
}

async fn queue(
    settings: &Settings,
    database: &Database,
) -> Result<WebhookQueuePorts, StartupError> {
    match (settings.webhooks.queue, settings.queue.backend) {
        (WebhookQueue::Redis, _) => redis_queue(settings, &settings.webhooks.redis).await,
        (WebhookQueue::Same, QueueBackend::Redis) => {
            redis_queue(settings, &settings.queue.redis).await
        }
        // AMQP cannot check-and-publish atomically: its webhooks use the table queue of
        // the database (always configured), which can.
        (WebhookQueue::Same, QueueBackend::Sql | QueueBackend::Amqp) => {
            let mut config = seam_queue_sql::SqlQueueConfig::new(vec![ingest::binding()]);
            config.visibility_timeout = settings.queue.visibility_timeout;
            config.poll_interval = settings.queue.poll_interval;
            let queue = Arc::new(
                seam_queue_sql::SqlQueue::new(database.clone(), config)
                    .map_err(|error| adapter_error("webhooks queue (sql)", error))?,
            );
            Ok(WebhookQueuePorts {
                unique: queue.clone(),
                publisher: queue.clone(),
                consumer: queue.clone(),
                dead_letters: queue,
                redis: None,
            })
        }
        (WebhookQueue::Same, QueueBackend::Memory) => {
            // In-process only: the API and the worker must then run in one process (tests).
            let mut config = MemoryQueueConfig::new(vec![ingest::binding()]);
            config.visibility_timeout = settings.queue.visibility_timeout;
            let queue = MemoryQueue::new(config)
                .map_err(|error| adapter_error("webhooks queue (memory)", error))?;
            let shared = Arc::new(queue.clone());
            Ok(WebhookQueuePorts {
                unique: Arc::new(MemoryUniquePublisher::new(queue)),
                publisher: shared.clone(),
                consumer: shared.clone(),
                dead_letters: shared,
                redis: None,
            })
        }
    }
}
