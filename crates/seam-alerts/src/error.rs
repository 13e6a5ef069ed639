//! The alerts port's error: what went wrong, classified for retry policies.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};

/// A boxed cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an alert operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The alert or dedup key is not valid (empty, too long), or the upstream refused
    /// the event as malformed; sending it again cannot help.
    #[error("invalid alert: {0}")]
    Invalid(String),
    /// The upstream rejected the credentials (routing key, token).
    #[error("alerting credentials rejected: {0}")]
    Unauthorized(String),
    /// The upstream asked to slow down (HTTP 429).
    #[error("alerting rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the upstream asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A passing fault (HTTP 5xx, connection failure); a retry may succeed.
    #[error("transient alerting failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The upstream did not answer in time; whether the event arrived is unknown
    /// (resending is safe: events are idempotent by dedup key).
    #[error("alerting upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// The upstream refused for good for a reason other than the event's shape.
    #[error("alert refused: {0}")]
    Permanent(String),
}

/// The alerts port's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid(reason.into())
    }

    /// An [`Error::Transient`] without an underlying error.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Transient`] caused by `source`.
    pub fn transient_from(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Transient {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::Unauthorized(_) => ErrorKind::Unauthorized,
            Self::RateLimited { retry_after } => ErrorKind::RateLimited {
                retry_after: *retry_after,
            },
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Permanent(_) => ErrorKind::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let wait = Duration::from_secs(3);
        let cases = [
            (Error::invalid("x"), ErrorKind::Invalid),
            (Error::Unauthorized("x".into()), ErrorKind::Unauthorized),
            (
                Error::RateLimited {
                    retry_after: Some(wait),
                },
                ErrorKind::RateLimited {
                    retry_after: Some(wait),
                },
            ),
            (Error::transient("x"), ErrorKind::Transient),
            (Error::Timeout(wait), ErrorKind::Timeout),
            (Error::Permanent("x".into()), ErrorKind::Permanent),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        assert_eq!(
            Error::RateLimited {
                retry_after: Some(wait)
            }
            .to_string(),
            "alerting rate limited (retry after 3s)"
        );
        let error = Error::transient_from("reset", std::io::Error::other("boom"));
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "boom"
        );
    }
}
