//! Redis failures, translated into the queue port's errors at this edge only.

use std::time::Duration;

use seam_core::ErrorKind;
use seam_queue::Error;

pub(crate) const ADAPTER: &str = "redis";

/// What the publish script answers when a stream is at its length cap.
pub(crate) const FULL: &str = "SEAMFULL";

#[derive(Debug, thiserror::Error)]
pub(crate) enum RedisQueueError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("no answer within {0:?}")]
    Elapsed(Duration),
    #[error("queue {0:?} holds its maximum number of messages; try again later")]
    Full(String),
}

impl From<RedisQueueError> for Error {
    fn from(error: RedisQueueError) -> Self {
        match error {
            RedisQueueError::Elapsed(_) => Error::Timeout {
                adapter: ADAPTER,
                source: Box::new(error),
            },
            RedisQueueError::Full(_) => Error::Unavailable {
                adapter: ADAPTER,
                source: Box::new(error),
            },
            RedisQueueError::Redis(inner) if inner.is_timeout() => Error::Timeout {
                adapter: ADAPTER,
                source: Box::new(inner),
            },
            RedisQueueError::Redis(inner)
                if inner.is_connection_refusal()
                    || inner.is_io_error()
                    || inner.is_connection_dropped()
                    || inner.is_unrecoverable_error() =>
            {
                Error::Unavailable {
                    adapter: ADAPTER,
                    source: Box::new(inner),
                }
            }
            RedisQueueError::Redis(inner) => Error::backend(ADAPTER, ErrorKind::Transient, inner),
        }
    }
}

#[cfg(test)]
mod tests {
    use seam_core::Classify;

    use super::*;

    #[test]
    fn classifies() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Error::from(RedisQueueError::from(refused)).kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(
            Error::from(RedisQueueError::Elapsed(Duration::from_millis(1))).kind(),
            ErrorKind::Timeout
        );
        assert_eq!(
            Error::from(RedisQueueError::Full("orders".into())).kind(),
            ErrorKind::Unavailable
        );
        let reply = redis::RedisError::from((redis::ErrorKind::Client, "odd reply"));
        assert!(
            Error::from(RedisQueueError::from(reply))
                .kind()
                .is_retryable()
        );
    }
}
