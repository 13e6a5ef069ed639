//! The storage port's error: what went wrong, classified for retry policies.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};

use crate::key::ObjectKey;

/// A boxed cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No object under this key.
    #[error("no object at {key}")]
    NotFound {
        /// The key asked for.
        key: ObjectKey,
    },
    /// The object exists already and the write asked for [`PutMode::Create`](crate::PutMode::Create).
    #[error("an object exists already at {key}")]
    AlreadyExists {
        /// The key written to.
        key: ObjectKey,
    },
    /// The text is not a valid object key (or list prefix).
    #[error("invalid object key {key}: {reason}")]
    InvalidKey {
        /// The offending key, escaped with `{:?}` and shortened, so it is safe to log.
        key: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// The request is wrong (metadata, page size, expiry, continuation token...).
    #[error("invalid storage request: {0}")]
    Invalid(String),
    /// The byte range asked for lies outside the object.
    #[error("range not satisfiable for an object of {size} bytes")]
    RangeNotSatisfiable {
        /// The object's size.
        size: u64,
    },
    /// The backend rejected the credentials.
    #[error("storage credentials rejected: {0}")]
    Unauthorized(String),
    /// The credentials are valid but not allowed to do this.
    #[error("storage access denied: {0}")]
    Forbidden(String),
    /// A passing fault (connection reset, HTTP 5xx); a retry may succeed.
    #[error("transient storage failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend asked to slow down (HTTP 429, S3 `SlowDown`).
    #[error("storage rate limited{}", retry_after.map(|d| format!(" (retry after {d:?})")).unwrap_or_default())]
    RateLimited {
        /// How long the backend asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The backend did not answer in time; whether a write took effect is unknown.
    #[error("storage backend did not answer within {0:?}")]
    Timeout(Duration),
    /// The backend cannot be reached or refuses work.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The adapter or its backend cannot do this at all.
    #[error("{operation} is not supported by the {adapter} storage adapter")]
    NotSupported {
        /// The operation asked for (`signed_url`, ...).
        operation: &'static str,
        /// The adapter's name ([`ObjectStorage::adapter`](crate::ObjectStorage::adapter)).
        adapter: &'static str,
    },
    /// The backend failed in a way this port does not model; retrying will not help.
    #[error("{adapter} storage backend error: {message}")]
    Backend {
        /// The adapter's name.
        adapter: &'static str,
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// The storage port's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest escaped key kept in an [`Error::InvalidKey`].
const MAX_ESCAPED_KEY_CHARS: usize = 160;

impl Error {
    /// An [`Error::NotFound`] for `key`.
    pub fn not_found(key: &ObjectKey) -> Self {
        Self::NotFound { key: key.clone() }
    }

    /// An [`Error::AlreadyExists`] for `key`.
    pub fn already_exists(key: &ObjectKey) -> Self {
        Self::AlreadyExists { key: key.clone() }
    }

    /// An [`Error::InvalidKey`] for the raw text `key`, escaped and shortened.
    pub fn invalid_key(key: &str, reason: &'static str) -> Self {
        let mut escaped = format!("{key:?}");
        if escaped.chars().count() > MAX_ESCAPED_KEY_CHARS {
            escaped = escaped.chars().take(MAX_ESCAPED_KEY_CHARS).collect();
            escaped.push_str("...");
        }
        Self::InvalidKey {
            key: escaped,
            reason,
        }
    }

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

    /// An [`Error::Unavailable`] with this reason.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable(message.into())
    }

    /// An [`Error::NotSupported`].
    pub fn not_supported(operation: &'static str, adapter: &'static str) -> Self {
        Self::NotSupported { operation, adapter }
    }

    /// An [`Error::Backend`] without an underlying error.
    pub fn backend(adapter: &'static str, message: impl Into<String>) -> Self {
        Self::Backend {
            adapter,
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::Backend`] caused by `source`.
    pub fn backend_from(
        adapter: &'static str,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::Backend {
            adapter,
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Whether this is [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::InvalidKey { .. } | Self::Invalid(_) | Self::RangeNotSatisfiable { .. } => {
                ErrorKind::Invalid
            }
            Self::Unauthorized(_) => ErrorKind::Unauthorized,
            Self::Forbidden(_) => ErrorKind::Forbidden,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::RateLimited { retry_after } => ErrorKind::RateLimited {
                retry_after: *retry_after,
            },
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::NotSupported { .. } => ErrorKind::NotSupported,
            Self::Backend { .. } => ErrorKind::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let key = ObjectKey::parse("a/b.txt").unwrap();
        let wait = Duration::from_secs(3);
        let cases = [
            (Error::not_found(&key), ErrorKind::NotFound),
            (Error::already_exists(&key), ErrorKind::AlreadyExists),
            (
                Error::invalid_key("/x", "leading slash"),
                ErrorKind::Invalid,
            ),
            (Error::invalid("x"), ErrorKind::Invalid),
            (Error::RangeNotSatisfiable { size: 3 }, ErrorKind::Invalid),
            (Error::Unauthorized("x".into()), ErrorKind::Unauthorized),
            (Error::Forbidden("x".into()), ErrorKind::Forbidden),
            (Error::transient("x"), ErrorKind::Transient),
            (
                Error::RateLimited {
                    retry_after: Some(wait),
                },
                ErrorKind::RateLimited {
                    retry_after: Some(wait),
                },
            ),
            (Error::Timeout(wait), ErrorKind::Timeout),
            (Error::unavailable("x"), ErrorKind::Unavailable),
            (
                Error::not_supported("signed_url", "memory"),
                ErrorKind::NotSupported,
            ),
            (Error::backend("s3", "x"), ErrorKind::Permanent),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
        assert!(Error::transient("x").is_retryable());
        assert!(!Error::not_found(&key).is_retryable());
    }

    #[test]
    fn invalid_key_is_escaped_and_shortened() {
        let error = Error::invalid_key("a\nb\u{7f}", "control character");
        assert_eq!(
            error.to_string(),
            r#"invalid object key "a\nb\u{7f}": control character"#
        );
        let long = "x".repeat(10_000);
        let Error::InvalidKey { key, .. } = Error::invalid_key(&long, "too long") else {
            panic!("not InvalidKey");
        };
        assert!(key.len() < 200, "{}", key.len());
        assert!(key.ends_with("..."));
    }

    #[test]
    fn messages_say_what_happened() {
        let error = Error::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(error.to_string(), "storage rate limited (retry after 2s)");
        let error = Error::backend_from("s3", "odd answer", std::io::Error::other("boom"));
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "boom"
        );
        assert_eq!(
            Error::not_supported("signed_url", "memory").to_string(),
            "signed_url is not supported by the memory storage adapter"
        );
    }
}
