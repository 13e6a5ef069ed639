//! Redis failures, translated into the cache port's errors at this edge only.

use std::time::Duration;

use seam_cache::Error;

/// The adapter name in errors and metrics.
pub(crate) const ADAPTER: &str = "redis";

/// What went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisCacheError {
    /// The driver failed.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    /// The call's deadline passed.
    #[error("no answer within {0:?}")]
    Elapsed(Duration),
}

impl From<RedisCacheError> for Error {
    fn from(error: RedisCacheError) -> Self {
        match error {
            RedisCacheError::Elapsed(after) => Error::Timeout {
                adapter: ADAPTER,
                after,
            },
            RedisCacheError::Redis(error) if error.is_timeout() => Error::Timeout {
                adapter: ADAPTER,
                after: Duration::ZERO,
            },
            RedisCacheError::Redis(error)
                if error.is_connection_refusal()
                    || error.is_io_error()
                    || error.is_connection_dropped()
                    || error.is_unrecoverable_error() =>
            {
                Error::Unavailable {
                    adapter: ADAPTER,
                    message: "cannot reach the Redis server".to_owned(),
                    source: Some(Box::new(error)),
                }
            }
            RedisCacheError::Redis(error) => Error::backend(ADAPTER, error),
        }
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    #[test]
    fn classifies() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Error::from(RedisCacheError::from(refused)).kind(),
            ErrorKind::Unavailable
        );
        let timed_out = redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::TimedOut));
        assert_eq!(
            Error::from(RedisCacheError::from(timed_out)).kind(),
            ErrorKind::Timeout
        );
        assert_eq!(
            Error::from(RedisCacheError::Elapsed(Duration::from_millis(1))).kind(),
            ErrorKind::Timeout
        );
        let reply = redis::RedisError::from((redis::ErrorKind::Client, "odd reply"));
        assert_eq!(
            Error::from(RedisCacheError::from(reply)).kind(),
            ErrorKind::Transient
        );
    }
}
