//! What can go wrong using a cache, and what kind of failure each thing is.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};

/// A `Result` whose error defaults to the cache port's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The boxed cause of a backend failure.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything a [`Cache`](crate::Cache) can fail with.
///
/// Every variant answers [`Classify::kind`]. Messages never contain a connection
/// string or a cached value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cache server cannot be reached or refuses work (connection refused, reset,
    /// I/O error). `Unavailable`.
    #[error("{adapter} cache unavailable: {message}")]
    Unavailable {
        /// The adapter that failed (`"redis"`, ...).
        adapter: &'static str,
        /// What happened, without secrets.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The cache did not answer in time. `Timeout`.
    #[error("{adapter} cache did not answer within {after:?}")]
    Timeout {
        /// The adapter that timed out.
        adapter: &'static str,
        /// The deadline that passed.
        after: Duration,
    },

    /// The request is wrong: a malformed key, a zero TTL, a value that cannot be
    /// encoded. Retrying cannot help. `Invalid`.
    #[error("invalid cache request: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },

    /// The backend answered with an unexpected error. `Transient`: a cache error is
    /// never worth more than a retry or a bypass.
    #[error("{adapter} cache error: {source}")]
    Backend {
        /// The adapter that failed.
        adapter: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An [`Error::Invalid`] with this message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
        }
    }

    /// An [`Error::Unavailable`] without an underlying error.
    pub fn unavailable(adapter: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable {
            adapter,
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Backend`] wrapping `source`.
    pub fn backend(adapter: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Backend {
            adapter,
            source: source.into(),
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Invalid { .. } => ErrorKind::Invalid,
            Self::Backend { .. } => ErrorKind::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            Error::unavailable("redis", "refused").kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(
            Error::Timeout {
                adapter: "redis",
                after: Duration::from_millis(5)
            }
            .kind(),
            ErrorKind::Timeout
        );
        assert_eq!(Error::invalid("bad key").kind(), ErrorKind::Invalid);
        assert_eq!(
            Error::backend("redis", "WRONGTYPE").kind(),
            ErrorKind::Transient
        );
        assert!(!Error::invalid("x").is_retryable());
    }
}
