//! The error taxonomy shared by every port: what went wrong, in terms a policy can act on.

use std::fmt;
use std::time::Duration;

/// What kind of failure an error is, independent of the vendor that produced it.
///
/// Adapters translate vendor codes (HTTP status, SQLSTATE, SMTP reply codes, ...)
/// into a kind at their edge; everything downstream (retries, circuit breakers,
/// HTTP responses, dead-lettering) decides on the kind alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A passing fault (connection reset, 5xx, deadlock): the same call may succeed if retried.
    Transient,
    /// The upstream asked us to slow down; retry no earlier than `retry_after` when given.
    RateLimited {
        /// How long the upstream asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// The dependency cannot be reached or refuses work (down, circuit open, pool exhausted).
    Unavailable,
    /// The call did not finish in time. The outcome of the call is unknown.
    Timeout,
    /// The request itself is wrong (validation, malformed input); retrying cannot help.
    Invalid,
    /// The thing asked for does not exist.
    NotFound,
    /// The thing to create exists already.
    AlreadyExists,
    /// The request conflicts with the current state (stale version, reused idempotency key).
    Conflict,
    /// The caller is not authenticated, or its credentials were rejected.
    Unauthorized,
    /// The caller is authenticated but not allowed to do this.
    Forbidden,
    /// The operation is not supported by this adapter or backend.
    NotSupported,
    /// The upstream refused for good (card declined, mailbox does not exist); do not retry.
    Permanent,
    /// A bug or broken invariant on our side.
    Internal,
}

impl ErrorKind {
    /// Whether a call that failed with this kind may succeed if tried again.
    ///
    /// `Transient`, `RateLimited`, `Unavailable` and `Timeout` are retryable. Note that
    /// a timed-out call may have taken effect: retry it only when the operation is
    /// idempotent (or carries an idempotency key).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Transient | Self::RateLimited { .. } | Self::Unavailable | Self::Timeout
        )
    }

    /// Whether this kind says the *upstream* is unhealthy, so a circuit breaker should
    /// count it as a failure.
    ///
    /// A caller's mistake (`Invalid`, `NotFound`, `Conflict`, ...) is not the
    /// upstream's fault and must not trip a breaker.
    pub fn is_upstream_failure(&self) -> bool {
        self.is_retryable()
    }

    /// The wait the upstream asked for, if this is `RateLimited` with a hint.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The HTTP status code that best answers a client when a request fails with this kind.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Invalid => 422,
            Self::NotFound => 404,
            Self::AlreadyExists | Self::Conflict => 409,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::RateLimited { .. } => 429,
            Self::Unavailable => 503,
            Self::Timeout => 504,
            Self::NotSupported => 501,
            Self::Transient | Self::Permanent => 502,
            Self::Internal => 500,
        }
    }

    /// A short, stable, lower-case name, suitable as a metric label or log field.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Transient => "transient",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Invalid => "invalid",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::Conflict => "conflict",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotSupported => "not_supported",
            Self::Permanent => "permanent",
            Self::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimited {
                retry_after: Some(after),
            } => write!(f, "rate_limited (retry after {after:?})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Implemented by every error that crosses a port: it says what kind of failure it is.
///
/// ```
/// use seam_core::{Classify, ErrorKind};
///
/// #[derive(Debug)]
/// enum MailError { Busy, NoSuchMailbox }
///
/// impl Classify for MailError {
///     fn kind(&self) -> ErrorKind {
///         match self {
///             MailError::Busy => ErrorKind::Transient,
///             MailError::NoSuchMailbox => ErrorKind::Permanent,
///         }
///     }
/// }
///
/// assert!(MailError::Busy.is_retryable());
/// assert!(!MailError::NoSuchMailbox.is_retryable());
/// ```
pub trait Classify {
    /// The kind of this failure.
    fn kind(&self) -> ErrorKind;

    /// Whether the failed call may succeed if tried again; see [`ErrorKind::is_retryable`].
    fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

impl Classify for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

impl<T: Classify + ?Sized> Classify for &T {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}

impl<T: Classify + ?Sized> Classify for Box<T> {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}

impl<T: Classify + ?Sized> Classify for std::sync::Arc<T> {
    fn kind(&self) -> ErrorKind {
        (**self).kind()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_upstream_faults_are_retryable() {
        let retryable = [
            ErrorKind::Transient,
            ErrorKind::RateLimited { retry_after: None },
            ErrorKind::Unavailable,
            ErrorKind::Timeout,
        ];
        let final_kinds = [
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::Conflict,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::NotSupported,
            ErrorKind::Permanent,
            ErrorKind::Internal,
        ];
        for kind in retryable {
            assert!(kind.is_retryable(), "{kind} should be retryable");
            assert!(kind.is_upstream_failure(), "{kind} should trip a breaker");
        }
        for kind in final_kinds {
            assert!(!kind.is_retryable(), "{kind} should not be retryable");
            assert!(
                !kind.is_upstream_failure(),
                "{kind} should not trip a breaker"
            );
        }
    }

    #[test]
    fn retry_after_only_from_rate_limited() {
        let wait = Duration::from_secs(3);
        assert_eq!(
            ErrorKind::RateLimited {
                retry_after: Some(wait)
            }
            .retry_after(),
            Some(wait)
        );
        assert_eq!(ErrorKind::Transient.retry_after(), None);
    }

    #[test]
    fn http_status_for_client_mistakes_is_4xx() {
        for kind in [
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::AlreadyExists,
            ErrorKind::Conflict,
            ErrorKind::Unauthorized,
            ErrorKind::Forbidden,
            ErrorKind::RateLimited { retry_after: None },
        ] {
            assert!((400..500).contains(&kind.http_status()), "{kind}");
        }
        assert_eq!(ErrorKind::Unavailable.http_status(), 503);
        assert_eq!(ErrorKind::Internal.http_status(), 500);
    }

    #[test]
    fn display_includes_retry_after() {
        let kind = ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(kind.to_string(), "rate_limited (retry after 2s)");
        assert_eq!(ErrorKind::NotFound.to_string(), "not_found");
    }
}
