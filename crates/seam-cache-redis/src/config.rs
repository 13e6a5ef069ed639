//! How to reach Redis: URL, key prefix and deadline, validated before use.

use std::time::Duration;

use seam_cache::{Error, Result};
use seam_core::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::RedisCache;

/// The longest key prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 128;

/// How to reach the Redis server and how to name keys on it.
///
/// Deserialises from configuration (durations as `"250ms"`); serialising or printing it
/// shows the URL as `[REDACTED]`. The default is `redis://127.0.0.1:6379`, prefix
/// `seam:` and a 500 ms deadline.
///
/// ```
/// use std::time::Duration;
/// use seam_cache_redis::RedisCacheConfig;
///
/// let config = RedisCacheConfig::new("redis://127.0.0.1:6379", "shop:prod:")
///     .with_timeout(Duration::from_millis(200));
/// config.validate().unwrap();
/// assert!(RedisCacheConfig::new("http://nope", "p:").validate().is_err());
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisCacheConfig {
    /// `redis://[user:password@]host:port[/db]`. A secret: it may hold a password.
    /// (`rediss://`, TLS, is refused: the adapter is built without TLS support.)
    pub url: SecretString,
    /// Put in front of every key, so deployments (and tests) sharing a server do not
    /// see each other's entries. Should end with a separator such as `:`.
    pub prefix: String,
    /// The deadline of each call, connecting included. Past it the call fails with
    /// `Timeout`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisCacheConfig {
    fn default() -> Self {
        Self {
            url: SecretString::from("redis://127.0.0.1:6379"),
            prefix: "seam:".to_owned(),
            timeout: Duration::from_millis(500),
        }
    }
}

impl RedisCacheConfig {
    /// The default settings with another URL and prefix.
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// The same settings with another deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Checks every setting and reports all problems at once, each naming its key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the URL is not `redis://` or `rediss://` (or does not
    /// parse), the prefix is too long or holds whitespace or control characters, or the
    /// timeout is zero. The URL itself is never quoted.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let url = self.url.expose_secret();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            problems.push("`cache.redis_url`: expected a redis:// or rediss:// URL".to_owned());
        } else if redis::Client::open(url.as_str()).is_err() {
            problems.push(if url.starts_with("rediss://") {
                "`cache.redis_url`: not a valid Redis URL, or rediss:// (TLS), which this build \
                 does not support"
                    .to_owned()
            } else {
                "`cache.redis_url`: not a valid Redis URL".to_owned()
            });
        }
        if self.prefix.len() > MAX_PREFIX_LEN {
            problems.push(format!(
                "`cache.key_prefix`: {} bytes long; at most {MAX_PREFIX_LEN} are allowed",
                self.prefix.len()
            ));
        }
        if self
            .prefix
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            problems.push(
                "`cache.key_prefix`: must not contain whitespace or control characters".to_owned(),
            );
        }
        if self.timeout.is_zero() {
            problems.push("`cache.timeout`: must be greater than zero".to_owned());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "Redis cache configuration: {}",
                problems.join("; ")
            )))
        }
    }

    /// Validates the settings and makes the cache.
    ///
    /// No connection is made yet: the first call connects, and a cache whose server is
    /// down fails each call with `Unavailable` (wrap it in
    /// [`BypassOnError`](seam_cache::BypassOnError) so that requests do not fail),
    /// reconnecting on the next call. Use [`RedisCache::ping`] to check at start-up.
    /// Must be called inside a Tokio runtime.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn build(self) -> Result<RedisCache> {
        self.validate()?;
        RedisCache::from_config(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_without_the_url() {
        let config = RedisCacheConfig {
            url: SecretString::from("postgres://user:hunter2@db/x"),
            prefix: "has space".to_owned(),
            timeout: Duration::ZERO,
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("`cache.redis_url`"), "{message}");
        assert!(message.contains("`cache.key_prefix`"), "{message}");
        assert!(message.contains("`cache.timeout`"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn tls_is_refused_with_a_reason() {
        let message = RedisCacheConfig::new("rediss://cache:6380", "p:")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(message.contains("TLS"), "{message}");
    }

    #[test]
    fn defaults_are_valid_and_redacted() {
        let config = RedisCacheConfig::default();
        config.validate().unwrap();
        assert!(!format!("{config:?}").contains("6379"));
    }

    #[test]
    fn deserialises_durations() {
        let config: RedisCacheConfig = serde_json::from_str(
            r#"{"url": "redis://:pw@cache:6380/2", "prefix": "p:", "timeout": "250ms"}"#,
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_millis(250));
        config.validate().unwrap();
    }
}
