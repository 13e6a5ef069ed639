//! The payments port's error: what went wrong, classified for retry, breaker and HTTP mapping.
//!
//! Messages are safe to log and, for the 4xx-like variants, to show to an API client:
//! they never contain a secret key, a card number or a full token.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};

use crate::types::{IdempotencyKey, PaymentId};

/// A boxed cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a payment operation failed.
///
/// | variant | kind |
/// | --- | --- |
/// | `Invalid` | `Invalid` |
/// | `NotFound` | `NotFound` |
/// | `CardDeclined` | `Permanent` |
/// | `IdempotencyConflict` | `Conflict` |
/// | `InvalidState` | `Conflict` |
/// | `RateLimited` | `RateLimited { retry_after }` |
/// | `Transient` | `Transient` |
/// | `Timeout` | `Timeout` |
/// | `Unavailable` | `Unavailable` |
/// | `Unauthorized` | `Unauthorized` |
///
/// `InvalidState` is a `Conflict`, not `Invalid`: the same request may be fine against
/// another state (refunding 10.00 is refused only because 95.00 of 100.00 was refunded
/// already), so it is the payment's state that conflicts, not the request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is wrong (validation, unknown currency at the provider, bad token).
    #[error("invalid payment request: {0}")]
    Invalid(String),
    /// No such payment (or refund).
    #[error("no payment {0}")]
    NotFound(String),
    /// The card was declined; retrying the same card will not help.
    #[error("card declined ({}): {message}", decline_code.as_deref().unwrap_or("no decline code"))]
    CardDeclined {
        /// The issuer's decline code (`generic_decline`, `insufficient_funds`, …).
        decline_code: Option<String>,
        /// A message fit for the customer.
        message: String,
        /// The payment the attempt belongs to, when the provider created one; its
        /// status is [`PaymentStatus::Failed`](crate::PaymentStatus::Failed).
        payment_id: Option<PaymentId>,
    },
    /// The idempotency key was used before with different parameters (or for another
    /// operation).
    #[error("idempotency key {key} was already used with different parameters")]
    IdempotencyConflict {
        /// The key reused.
        key: IdempotencyKey,
    },
    /// The payment's state does not allow this (capturing a canceled payment, refunding
    /// more than is left).
    #[error("payment state does not allow this: {0}")]
    InvalidState(String),
    /// The provider asked to slow down.
    #[error("payment provider rate limited{}", retry_hint(*.retry_after))]
    RateLimited {
        /// How long the provider asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// A passing fault (connection failure, HTTP 5xx); a retry with the same
    /// idempotency key may succeed and cannot charge twice.
    #[error("transient payment provider failure: {message}")]
    Transient {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The provider did not answer in time; whether the call took effect is unknown
    /// (retry with the same idempotency key to find out).
    #[error("payment provider did not answer in time: {0}")]
    Timeout(String),
    /// The provider cannot be used now (circuit open, maintenance).
    #[error("payment provider unavailable: {message}{}", retry_hint(*.retry_after))]
    Unavailable {
        /// Why.
        message: String,
        /// When to try again, when known.
        retry_after: Option<Duration>,
    },
    /// The provider rejected our credentials.
    #[error("payment provider rejected the credentials: {0}")]
    Unauthorized(String),
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|after| {
            format!(
                " (retry after {}s)",
                after.as_millis().div_ceil(1000).max(1)
            )
        })
        .unwrap_or_default()
}

/// The payments port's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid(reason.into())
    }

    /// An [`Error::InvalidState`] with this reason.
    pub fn invalid_state(reason: impl Into<String>) -> Self {
        Self::InvalidState(reason.into())
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

    /// How long to wait before trying again, when known (`RateLimited`, `Unavailable`):
    /// the value of a `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// The decline code, when the card was declined.
    pub fn decline_code(&self) -> Option<&str> {
        match self {
            Self::CardDeclined { decline_code, .. } => decline_code.as_deref(),
            _ => None,
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::CardDeclined { .. } => ErrorKind::Permanent,
            Self::IdempotencyConflict { .. } | Self::InvalidState(_) => ErrorKind::Conflict,
            Self::RateLimited { retry_after } => ErrorKind::RateLimited {
                retry_after: *retry_after,
            },
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Timeout(_) => ErrorKind::Timeout,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Unauthorized(_) => ErrorKind::Unauthorized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_kind() {
        let wait = Some(Duration::from_secs(3));
        let cases = [
            (Error::invalid("x"), ErrorKind::Invalid),
            (Error::NotFound("pi_1".into()), ErrorKind::NotFound),
            (
                Error::CardDeclined {
                    decline_code: Some("insufficient_funds".into()),
                    message: "Your card has insufficient funds.".into(),
                    payment_id: None,
                },
                ErrorKind::Permanent,
            ),
            (
                Error::IdempotencyConflict {
                    key: IdempotencyKey::new("k").unwrap(),
                },
                ErrorKind::Conflict,
            ),
            (Error::invalid_state("x"), ErrorKind::Conflict),
            (
                Error::RateLimited { retry_after: wait },
                ErrorKind::RateLimited { retry_after: wait },
            ),
            (Error::transient("x"), ErrorKind::Transient),
            (Error::Timeout("x".into()), ErrorKind::Timeout),
            (
                Error::Unavailable {
                    message: "x".into(),
                    retry_after: wait,
                },
                ErrorKind::Unavailable,
            ),
            (Error::Unauthorized("x".into()), ErrorKind::Unauthorized),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn messages_are_safe_and_useful() {
        let error = Error::CardDeclined {
            decline_code: Some("generic_decline".into()),
            message: "Your card was declined.".into(),
            payment_id: None,
        };
        assert_eq!(
            error.to_string(),
            "card declined (generic_decline): Your card was declined."
        );
        assert_eq!(error.decline_code(), Some("generic_decline"));
        let error = Error::Unavailable {
            message: "circuit open".into(),
            retry_after: Some(Duration::from_millis(29_500)),
        };
        assert_eq!(
            error.to_string(),
            "payment provider unavailable: circuit open (retry after 30s)"
        );
        assert_eq!(error.retry_after(), Some(Duration::from_millis(29_500)));
    }
}
