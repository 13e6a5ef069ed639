//! The cache itself: prefixed keys, deadlines, metrics and the health check.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use seam_cache::{Cache, Error, Result, ttl_millis, validate_key};
use seam_core::{ExposeSecret, Health, HealthCheck};
use seam_telemetry::PortMetrics;

use crate::config::RedisCacheConfig;
use crate::error::{ADAPTER, RedisCacheError};

const METRICS: PortMetrics = PortMetrics::new("cache", ADAPTER);

/// A [`Cache`] on a Redis server; made by [`RedisCacheConfig::build`].
///
/// Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct RedisCache {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

impl fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCache")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    pub(crate) fn from_config(config: RedisCacheConfig) -> Result<Self> {
        let client = redis::Client::open(config.url.expose_secret().as_str())
            .map_err(|_| Error::invalid("`cache.redis_url`: not a valid Redis URL"))?;
        // No retries inside the manager: a call fails fast and the next one reconnects,
        // so a Redis that is down costs each request one refused connection at most.
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(0)
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout));
        let connection = ConnectionManager::new_lazy_with_config(client, manager_config)
            .map_err(|error| Error::backend(ADAPTER, error))?;
        Ok(Self {
            connection,
            prefix: config.prefix,
            timeout: config.timeout,
        })
    }

    /// The prefix in front of every key.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Sends `PING`.
    ///
    /// # Errors
    ///
    /// `Unavailable` or `Timeout` when the server does not answer.
    pub async fn ping(&self) -> Result<()> {
        METRICS
            .call("ping", async {
                let mut connection = self.connection.clone();
                self.within(redis::cmd("PING").query_async::<()>(&mut connection))
                    .await
            })
            .await
    }

    fn full_key(&self, key: &str) -> Result<String> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    async fn within<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(RedisCacheError::from(error).into()),
            Err(_) => Err(RedisCacheError::Elapsed(self.timeout).into()),
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        METRICS
            .call("get", async {
                let key = self.full_key(key)?;
                let mut connection = self.connection.clone();
                self.within(
                    redis::cmd("GET")
                        .arg(&key)
                        .query_async::<Option<Vec<u8>>>(&mut connection),
                )
                .await
            })
            .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> Result<()> {
        METRICS
            .call("set", async {
                let key = self.full_key(key)?;
                let mut command = redis::cmd("SET");
                command.arg(&key).arg(value);
                if let Some(ttl) = ttl {
                    command.arg("PX").arg(ttl_millis(ttl)?);
                }
                let mut connection = self.connection.clone();
                self.within(command.query_async::<()>(&mut connection))
                    .await
            })
            .await
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        METRICS
            .call("delete", async {
                let key = self.full_key(key)?;
                let mut connection = self.connection.clone();
                let removed = self
                    .within(
                        redis::cmd("DEL")
                            .arg(&key)
                            .query_async::<i64>(&mut connection),
                    )
                    .await?;
                Ok(removed > 0)
            })
            .await
    }
}

#[async_trait]
impl HealthCheck for RedisCache {
    fn name(&self) -> &str {
        "cache"
    }

    async fn check(&self) -> Health {
        match self.ping().await {
            Ok(()) => Health::up(),
            Err(error) => Health::down(format!("redis: {}", seam_core::Classify::kind(&error))),
        }
    }
}
