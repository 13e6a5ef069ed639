//! How to reach Redis and what topology to serve, validated before connecting.

use std::time::Duration;

use seam_core::{ExposeSecret, SecretString};
use seam_queue::{Error, QueueBinding, Result};
use serde::{Deserialize, Serialize};

use crate::RedisQueue;

/// The longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 128;

/// The Redis Streams queue's settings.
///
/// ```
/// use seam_queue::QueueBinding;
/// use seam_queue_redis::RedisQueueConfig;
///
/// let config = RedisQueueConfig {
///     key_prefix: "shop:queue".into(),
///     bindings: vec![QueueBinding::new("orders", "order.*")],
///     ..RedisQueueConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisQueueConfig {
    /// The server, e.g. `redis://127.0.0.1:6379` or `rediss://user:password@host/0`.
    pub url: SecretString,
    /// Put before every key: `{key_prefix}:{queue}:stream` and so on.
    pub key_prefix: String,
    /// The consumer group every worker joins.
    pub group: String,
    /// This process's consumer name; a fresh unique name when empty (the default), so
    /// that a restarted process never inherits the pending entries of its predecessor
    /// except through the visibility timeout.
    pub consumer: String,
    /// Which queues exist and which routing keys reach them.
    pub bindings: Vec<QueueBinding>,
    /// How long a delivery may stay unsettled before another consumer takes it over.
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// The most messages a queue's stream holds; publishing to a full queue fails with a
    /// retryable `Unavailable` instead of trimming accepted work.
    pub max_len: u64,
    /// How often a waiting `receive` looks for due retries and expired leases.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// The deadline of each command (a blocking read adds its own wait).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisQueueConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
            key_prefix: "seam:queue".to_owned(),
            group: "seam".to_owned(),
            consumer: String::new(),
            bindings: Vec::new(),
            visibility_timeout: Duration::from_secs(30),
            max_len: 1_000_000,
            poll_interval: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
        }
    }
}

impl RedisQueueConfig {
    /// Checks every field, naming the first wrong one.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field and what is expected.
    pub fn validate(&self) -> Result<()> {
        let url = self.url.expose_secret();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(Error::invalid(
                "`url`: expected a redis:// or rediss:// URL",
            ));
        }
        redis::Client::open(url.as_str())
            .map_err(|_| Error::invalid("`url`: not a valid Redis URL"))?;
        let name_ok = |value: &str, max: usize| {
            !value.is_empty()
                && value.len() <= max
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.'))
        };
        if !name_ok(&self.key_prefix, MAX_PREFIX_LEN) {
            return Err(Error::invalid(format!(
                "`key_prefix`: 1 to {MAX_PREFIX_LEN} characters of letters, digits, ':', '-', '_' or '.'"
            )));
        }
        if !name_ok(&self.group, 64) {
            return Err(Error::invalid(
                "`group`: 1 to 64 characters of letters, digits, ':', '-', '_' or '.'",
            ));
        }
        if !self.consumer.is_empty() && !name_ok(&self.consumer, 128) {
            return Err(Error::invalid(
                "`consumer`: empty (a unique name is chosen) or up to 128 characters of letters, digits, ':', '-', '_' or '.'",
            ));
        }
        if self.bindings.is_empty() {
            return Err(Error::invalid("`bindings`: at least one queue binding"));
        }
        for binding in &self.bindings {
            if !name_ok(&binding.queue, 128) {
                return Err(Error::invalid(format!(
                    "`bindings`: queue name {:?} must be 1 to 128 characters of letters, digits, ':', '-', '_' or '.'",
                    binding.queue
                )));
            }
        }
        if self.visibility_timeout < Duration::from_millis(100) {
            return Err(Error::invalid("`visibility_timeout`: at least 100ms"));
        }
        if self.max_len == 0 {
            return Err(Error::invalid("`max_len`: at least 1"));
        }
        if self.poll_interval.is_zero() || self.poll_interval > self.visibility_timeout {
            return Err(Error::invalid(
                "`poll_interval`: more than zero and at most `visibility_timeout`",
            ));
        }
        if self.timeout.is_zero() {
            return Err(Error::invalid("`timeout`: more than zero"));
        }
        Ok(())
    }

    /// Validates, connects and creates the consumer groups of every bound queue.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a wrong setting; `Unavailable` when Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisQueue> {
        self.validate()?;
        RedisQueue::connect(self).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> RedisQueueConfig {
        RedisQueueConfig {
            bindings: vec![QueueBinding::new("orders", "order.*")],
            ..RedisQueueConfig::default()
        }
    }

    #[test]
    fn defaults_with_a_binding_are_valid() {
        valid().validate().unwrap();
    }

    type Change = Box<dyn Fn(&mut RedisQueueConfig)>;

    #[test]
    fn each_wrong_field_is_named() {
        let cases: Vec<(&str, Change)> = vec![
            (
                "`url`",
                Box::new(|c| c.url = SecretString::from("http://x")),
            ),
            (
                "`key_prefix`",
                Box::new(|c| c.key_prefix = "has space".into()),
            ),
            ("`group`", Box::new(|c| c.group = String::new())),
            ("`consumer`", Box::new(|c| c.consumer = "a b".into())),
            ("`bindings`", Box::new(|c| c.bindings.clear())),
            (
                "`bindings`",
                Box::new(|c| c.bindings = vec![QueueBinding::new("a b", "x")]),
            ),
            (
                "`visibility_timeout`",
                Box::new(|c| c.visibility_timeout = Duration::from_millis(1)),
            ),
            ("`max_len`", Box::new(|c| c.max_len = 0)),
            (
                "`poll_interval`",
                Box::new(|c| c.poll_interval = Duration::ZERO),
            ),
            ("`timeout`", Box::new(|c| c.timeout = Duration::ZERO)),
        ];
        for (field, change) in cases {
            let mut config = valid();
            change(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(field), "{field}: {message}");
        }
    }

    #[test]
    fn the_url_is_never_printed() {
        let mut config = valid();
        config.url = SecretString::from("redis://user:hunter2@127.0.0.1:6379");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
