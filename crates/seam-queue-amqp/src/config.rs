//! How to reach RabbitMQ and what topology to declare, validated before connecting.

use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use seam_queue::{Error, QueueBinding, Result};
use serde::{Deserialize, Serialize};

use crate::AmqpQueue;

/// The kind of queue declared for each binding, and for its dead-letter and retry queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    /// A classic queue (single node).
    #[default]
    Classic,
    /// A replicated quorum queue, for clustered brokers.
    Quorum,
}

impl QueueType {
    /// The `x-queue-type` argument value.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

/// The RabbitMQ adapter's settings.
///
/// Every queue of [`bindings`](Self::bindings) is declared durable (with its queue type),
/// with a dead-letter queue `<queue>.dlq` and one retry queue per tier of
/// [`retry_tiers`](Self::retry_tiers). Broker names are the port's queue names behind
/// [`queue_prefix`](Self::queue_prefix), so deployments (and tests) sharing a vhost do not
/// collide.
///
/// Serialising or printing it shows the URL as `[REDACTED]`.
///
/// ```
/// use seam_queue::QueueBinding;
/// use seam_queue_amqp::AmqpQueueConfig;
///
/// let config = AmqpQueueConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f")
///     .with_bindings(vec![QueueBinding::new("orders", "order.created")]);
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmqpQueueConfig {
    /// `amqp://user:password@host:port/vhost` (`%2f` is the vhost `/`). A secret.
    pub url: SecretString,
    /// The topic exchange messages are published to. Two more exchanges are declared
    /// next to it: `<exchange>.direct` (to put a message on one queue: retries, replays,
    /// redeliveries) and `<exchange>.dlx` (dead letters).
    pub exchange: String,
    /// Put in front of every queue name on the broker.
    pub queue_prefix: String,
    /// The queues and the routing-key patterns they receive.
    pub bindings: Vec<QueueBinding>,
    /// Unacknowledged messages the broker pushes to a consumer ahead of `receive` (QoS).
    pub prefetch: u16,
    /// Classic or quorum queues.
    pub queue_type: QueueType,
    /// How long a received message may stay unsettled before it is delivered again.
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// The retry delays available, ascending. A retry waits in the queue of the smallest
    /// tier at least as long as the delay asked for (the largest tier when none is).
    #[serde(with = "durations")]
    pub retry_tiers: Vec<Duration>,
    /// The deadline for connecting and for each broker operation.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// The first wait before reconnecting after a failed connection; it doubles on each
    /// failure up to [`reconnect_max`](Self::reconnect_max).
    #[serde(with = "humantime_serde")]
    pub reconnect_min: Duration,
    /// The longest wait between two connection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
}

impl Default for AmqpQueueConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            exchange: "seam.events".to_owned(),
            queue_prefix: String::new(),
            bindings: Vec::new(),
            prefetch: 10,
            queue_type: QueueType::Classic,
            visibility_timeout: Duration::from_secs(30),
            retry_tiers: vec![
                Duration::from_secs(1),
                Duration::from_secs(10),
                Duration::from_secs(60),
            ],
            timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(10),
        }
    }
}

/// The longest name RabbitMQ accepts for a queue or an exchange, in bytes.
const MAX_NAME_LEN: usize = 255;
/// Room kept for the suffixes added to queue names (`.dlq`, `.retry.60000ms`, ...).
const SUFFIX_ROOM: usize = 32;

impl AmqpQueueConfig {
    /// The default settings with another URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            ..Self::default()
        }
    }

    /// The same settings with these bindings.
    pub fn with_bindings(mut self, bindings: Vec<QueueBinding>) -> Self {
        self.bindings = bindings;
        self
    }

    /// Checks every setting and reports all problems at once, each naming its key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing the problems; the URL itself is never quoted.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let url = self.url.expose_secret();
        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
            problems.push("`queue.amqp.url`: expected an amqp:// URL".to_owned());
        } else if url.starts_with("amqps://") {
            problems
                .push("`queue.amqp.url`: amqps:// (TLS) is not supported by this build".to_owned());
        } else if url.parse::<lapin::uri::AMQPUri>().is_err() {
            problems.push("`queue.amqp.url`: not a valid AMQP URL".to_owned());
        }
        if self.exchange.trim().is_empty() || self.exchange.len() > MAX_NAME_LEN - SUFFIX_ROOM {
            problems.push(format!(
                "`queue.amqp.exchange`: must be 1 to {} bytes",
                MAX_NAME_LEN - SUFFIX_ROOM
            ));
        }
        if self.exchange.starts_with("amq.") {
            problems.push("`queue.amqp.exchange`: names starting `amq.` are reserved".to_owned());
        }
        if self.bindings.is_empty() {
            problems.push("`queue.amqp.bindings`: at least one binding is needed".to_owned());
        }
        for binding in &self.bindings {
            let name_len = self.queue_prefix.len() + binding.queue.len();
            if binding.queue.trim().is_empty() || name_len > MAX_NAME_LEN - SUFFIX_ROOM {
                problems.push(format!(
                    "`queue.amqp.bindings`: queue {:?} must be 1 to {} bytes with its prefix",
                    binding.queue,
                    MAX_NAME_LEN - SUFFIX_ROOM
                ));
            }
            if binding.pattern.trim().is_empty() {
                problems.push(format!(
                    "`queue.amqp.bindings`: queue {:?} has an empty pattern",
                    binding.queue
                ));
            }
        }
        if self.prefetch == 0 {
            problems.push("`queue.amqp.prefetch`: must be at least 1".to_owned());
        }
        if self.visibility_timeout.is_zero() {
            problems.push("`queue.visibility_timeout`: must be greater than zero".to_owned());
        }
        if self.retry_tiers.is_empty() {
            problems.push("`queue.amqp.retry_tiers`: at least one tier is needed".to_owned());
        }
        if self.retry_tiers.iter().any(|tier| tier.as_millis() == 0) {
            problems.push("`queue.amqp.retry_tiers`: every tier must be at least 1 ms".to_owned());
        }
        if !self.retry_tiers.is_sorted() {
            problems.push("`queue.amqp.retry_tiers`: tiers must be in ascending order".to_owned());
        }
        if self.timeout.is_zero() {
            problems.push("`queue.amqp.timeout`: must be greater than zero".to_owned());
        }
        if self.reconnect_min.is_zero() || self.reconnect_max < self.reconnect_min {
            problems.push(
                "`queue.amqp.reconnect_min`/`reconnect_max`: need 0 < reconnect_min <= reconnect_max"
                    .to_owned(),
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "RabbitMQ queue configuration: {}",
                problems.join("; ")
            )))
        }
    }

    /// Validates the settings and makes the adapter.
    ///
    /// No connection is made yet: the first call connects and declares the topology
    /// (and so does the first call after the connection is lost). Call
    /// [`AmqpQueue::connect`] to fail early at start-up.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn build(self) -> Result<AmqpQueue> {
        self.validate()?;
        Ok(AmqpQueue::from_config(self))
    }
}

/// A list of durations as humantime strings (`["1s", "10s"]`).
mod durations {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &[Duration],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let wrapped: Vec<humantime_serde::Serde<Duration>> =
            value.iter().copied().map(Into::into).collect();
        wrapped.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Duration>, D::Error> {
        let wrapped = Vec::<humantime_serde::Serde<Duration>>::deserialize(deserializer)?;
        Ok(wrapped.into_iter().map(|d| d.into_inner()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_without_the_url() {
        let config = AmqpQueueConfig {
            url: SecretString::from("http://user:hunter2@x"),
            exchange: String::new(),
            prefetch: 0,
            retry_tiers: vec![Duration::from_secs(10), Duration::from_secs(1)],
            ..AmqpQueueConfig::default()
        };
        let message = config.validate().unwrap_err().to_string();
        for key in [
            "`queue.amqp.url`",
            "`queue.amqp.exchange`",
            "`queue.amqp.bindings`",
            "`queue.amqp.prefetch`",
            "`queue.amqp.retry_tiers`",
        ] {
            assert!(message.contains(key), "{key} in {message}");
        }
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn deserialises_with_durations() {
        let config: AmqpQueueConfig = serde_json::from_value(serde_json::json!({
            "url": "amqp://guest:guest@localhost:5672/%2f",
            "exchange": "shop",
            "bindings": [{"queue": "orders", "pattern": "order.created"}],
            "queue_type": "quorum",
            "retry_tiers": ["500ms", "5s"],
            "visibility_timeout": "10s",
        }))
        .unwrap();
        assert_eq!(config.queue_type, QueueType::Quorum);
        assert_eq!(
            config.retry_tiers,
            [Duration::from_millis(500), Duration::from_secs(5)]
        );
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("guest"));
    }
}
