//! How the table queue behaves: its bindings, visibility timeout and polling interval.

use std::time::Duration;

use seam_queue::{Error, QueueBinding, Result};
use serde::{Deserialize, Serialize};

/// Settings of a [`SqlQueue`](crate::SqlQueue).
///
/// Deserialises from configuration with durations as `"30s"`, `"250ms"`. The default has
/// no bindings (so every publish is unroutable until some are given), a 30 s visibility
/// timeout and a 250 ms polling interval.
///
/// ```
/// use std::time::Duration;
/// use seam_queue::QueueBinding;
/// use seam_queue_sql::SqlQueueConfig;
///
/// let config = SqlQueueConfig {
///     bindings: vec![QueueBinding::new("orders", "order.*")],
///     visibility_timeout: Duration::from_secs(60),
///     ..SqlQueueConfig::default()
/// };
/// config.validate().unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SqlQueueConfig {
    /// The queues and the routing-key patterns that reach them.
    pub bindings: Vec<QueueBinding>,
    /// How long a delivery is leased: a message neither acked nor settled within it is
    /// delivered again. Longer than the slowest processing of one message.
    #[serde(with = "humantime_serde")]
    pub visibility_timeout: Duration,
    /// How often a waiting `receive` looks for a message again.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
}

impl Default for SqlQueueConfig {
    fn default() -> Self {
        Self {
            bindings: Vec::new(),
            visibility_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(250),
        }
    }
}

impl SqlQueueConfig {
    /// The default settings with these bindings.
    pub fn new(bindings: Vec<QueueBinding>) -> Self {
        Self {
            bindings,
            ..Self::default()
        }
    }

    /// Checks every setting and reports all problems at once, each naming its key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing the problems: a zero `queue.visibility_timeout` or
    /// `queue.poll_interval`, a poll interval not shorter than the visibility timeout, a
    /// binding with a blank queue or pattern.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.visibility_timeout < Duration::from_millis(1) {
            problems.push("`queue.visibility_timeout` must be at least 1ms".to_owned());
        }
        if self.poll_interval.is_zero() {
            problems.push("`queue.poll_interval` must be greater than zero".to_owned());
        } else if self.poll_interval >= self.visibility_timeout {
            problems.push(format!(
                "`queue.poll_interval` ({:?}) must be shorter than `queue.visibility_timeout` ({:?})",
                self.poll_interval, self.visibility_timeout
            ));
        }
        for (index, binding) in self.bindings.iter().enumerate() {
            if binding.queue.trim().is_empty() || binding.pattern.trim().is_empty() {
                problems.push(format!(
                    "`queue.bindings[{index}]` needs a non-blank queue and pattern"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "invalid queue configuration: {}",
                problems.join("; ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    #[test]
    fn default_is_valid() {
        SqlQueueConfig::default().validate().unwrap();
    }

    #[test]
    fn reports_every_problem() {
        let config = SqlQueueConfig {
            bindings: vec![QueueBinding::new("", "#")],
            visibility_timeout: Duration::from_millis(100),
            poll_interval: Duration::from_secs(1),
        };
        let error = config.validate().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Invalid);
        let message = error.to_string();
        assert!(message.contains("`queue.poll_interval`"), "{message}");
        assert!(message.contains("`queue.bindings[0]`"), "{message}");
    }

    #[test]
    fn deserialises_human_durations() {
        let config: SqlQueueConfig = serde_json::from_str(
            r#"{"bindings":[{"queue":"orders","pattern":"order.*"}],"visibility_timeout":"2s","poll_interval":"50ms"}"#,
        )
        .unwrap();
        assert_eq!(config.visibility_timeout, Duration::from_secs(2));
        assert_eq!(config.poll_interval, Duration::from_millis(50));
        assert_eq!(config.bindings, [QueueBinding::new("orders", "order.*")]);
        assert!(serde_json::from_str::<SqlQueueConfig>(r#"{"visibilty":"1s"}"#).is_err());
    }
}
