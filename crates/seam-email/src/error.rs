//! The e-mail port's error: what went wrong, classified for retry policies.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};

use crate::message::MessageId;

/// A boxed cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an e-mail operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The message or the request is wrong; sending it again cannot help.
    #[error("invalid e-mail: {0}")]
    Invalid(String),
    /// A passing fault (SMTP 4xx, connection failure, HTTP 5xx); a retry may succeed.
    #[error("transient e-mail failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The upstream refused the message for good (SMTP 5xx, HTTP 4xx).
    #[error("e-mail refused: {message}")]
    Permanent {
        /// What the upstream said.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The upstream asked to slow down (HTTP 429).
    #[error("e-mail rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the upstream asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The upstream rejected the credentials.
    #[error("e-mail credentials rejected: {0}")]
    Unauthorized(String),
    /// The upstream did not answer in time; whether the message went out is unknown.
    #[error("e-mail upstream did not answer within {0:?}")]
    Timeout(Duration),
    /// No message with this id was sent through this service.
    #[error("no e-mail with id {0}")]
    NotFound(MessageId),
}

/// The e-mail port's result.
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

    /// An [`Error::Permanent`] without an underlying error.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Permanent`] caused by `source`.
    pub fn permanent_from(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Permanent {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Permanent { .. } => ErrorKind::Permanent,
            Self::RateLimited { retry_after } => ErrorKind::RateLimited {
                retry_after: *retry_after,
            },
            Self::Unauthorized(_) => ErrorKind::Unauthorized,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::NotFound(_) => ErrorKind::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let wait = Duration::from_secs(7);
        let cases = [
            (Error::invalid("x"), ErrorKind::Invalid),
            (Error::transient("x"), ErrorKind::Transient),
            (Error::permanent("x"), ErrorKind::Permanent),
            (
                Error::RateLimited {
                    retry_after: Some(wait),
                },
                ErrorKind::RateLimited {
                    retry_after: Some(wait),
                },
            ),
            (Error::Unauthorized("x".into()), ErrorKind::Unauthorized),
            (Error::Timeout(wait), ErrorKind::Timeout),
            (
                Error::NotFound(MessageId::new("m-1").unwrap()),
                ErrorKind::NotFound,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        assert!(Error::transient("x").is_retryable());
        assert!(!Error::permanent("x").is_retryable());
    }

    #[test]
    fn messages_say_what_happened() {
        let error = Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(error.to_string(), "e-mail rate limited (retry after 2s)");
        let error = Error::transient_from("connection refused", std::io::Error::other("boom"));
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "boom"
        );
    }
}
