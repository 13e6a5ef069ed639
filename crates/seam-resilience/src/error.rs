//! The error every policy returns: the call's own error, or the reason a policy refused it.

use std::sync::Arc;
use std::time::Duration;

use seam_core::{Classify, ErrorKind};

/// The outcome of a call that went through one or more policies and failed.
///
/// Either the call itself failed ([`ResilienceError::Inner`]) or a policy refused or
/// abandoned it. Every variant answers [`Classify::kind`], so a port decorator can map
/// a rejection into its own port error without knowing which policy produced it:
///
/// | variant          | kind                                  |
/// |------------------|---------------------------------------|
/// | `Inner(e)`       | `e.kind()`                            |
/// | `Timeout`        | [`ErrorKind::Timeout`]                |
/// | `CircuitOpen`    | [`ErrorKind::Unavailable`]            |
/// | `BulkheadFull`   | [`ErrorKind::Unavailable`]            |
/// | `RateLimited`    | [`ErrorKind::RateLimited`] with the wait |
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResilienceError<E> {
    /// The call ran and failed with its own error.
    #[error(transparent)]
    Inner(E),
    /// The call did not finish within the time limit; whether it took effect is unknown.
    #[error("call timed out after {after:?}")]
    Timeout {
        /// The limit that was exceeded.
        after: Duration,
    },
    /// The circuit breaker refused the call without running it.
    #[error("circuit breaker {breaker:?} is open{}", retry_hint(*.retry_after))]
    CircuitOpen {
        /// The breaker's name.
        breaker: Arc<str>,
        /// When the breaker will let a trial call through, if known (not when forced open).
        retry_after: Option<Duration>,
    },
    /// The bulkhead had no free slot within the allowed wait.
    #[error("bulkhead {bulkhead:?} is full ({max_concurrent} concurrent calls), waited {waited:?}")]
    BulkheadFull {
        /// The bulkhead's name.
        bulkhead: Arc<str>,
        /// The bulkhead's concurrency limit.
        max_concurrent: usize,
        /// How long the call waited for a slot before being rejected.
        waited: Duration,
    },
    /// The local rate limiter refused the call.
    #[error("rate limiter {limiter:?} refused the call{}", retry_hint(*.retry_after))]
    RateLimited {
        /// The rate limiter's name.
        limiter: Arc<str>,
        /// How long until the limiter would admit a call.
        retry_after: Option<Duration>,
    },
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after
        .map(|after| format!(", retry after {after:?}"))
        .unwrap_or_default()
}

impl<E> ResilienceError<E> {
    /// The call's own error, if the call ran and failed.
    pub fn inner(&self) -> Option<&E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }

    /// Converts into the call's own error, if the call ran and failed.
    pub fn into_inner(self) -> Option<E> {
        match self {
            Self::Inner(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a policy refused or abandoned the call (anything but [`ResilienceError::Inner`]).
    pub fn is_rejection(&self) -> bool {
        !matches!(self, Self::Inner(_))
    }

    /// The kind of a policy rejection, or `None` when the call itself failed.
    ///
    /// Unlike [`Classify::kind`] this needs no `E: Classify`, so it also works on the
    /// `ResilienceError<Infallible>` handed to [`ResilienceError::into_inner_or_else`].
    pub fn rejection_kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Inner(_) => None,
            Self::Timeout { .. } => Some(ErrorKind::Timeout),
            Self::CircuitOpen { .. } | Self::BulkheadFull { .. } => Some(ErrorKind::Unavailable),
            Self::RateLimited { retry_after, .. } => Some(ErrorKind::RateLimited {
                retry_after: *retry_after,
            }),
        }
    }

    /// Applies `f` to the call's own error, keeping policy rejections as they are.
    pub fn map_inner<F, E2>(self, f: F) -> ResilienceError<E2>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Self::Inner(e) => ResilienceError::Inner(f(e)),
            Self::Timeout { after } => ResilienceError::Timeout { after },
            Self::CircuitOpen {
                breaker,
                retry_after,
            } => ResilienceError::CircuitOpen {
                breaker,
                retry_after,
            },
            Self::BulkheadFull {
                bulkhead,
                max_concurrent,
                waited,
            } => ResilienceError::BulkheadFull {
                bulkhead,
                max_concurrent,
                waited,
            },
            Self::RateLimited {
                limiter,
                retry_after,
            } => ResilienceError::RateLimited {
                limiter,
                retry_after,
            },
        }
    }

    /// Converts into a port's own error: the call's error as it is, a rejection through `f`.
    pub fn into_inner_or_else<F>(self, f: F) -> E
    where
        F: FnOnce(ResilienceError<std::convert::Infallible>) -> E,
    {
        match self {
            Self::Inner(e) => e,
            other => f(other.map_inner(|_| unreachable!("Inner was matched above"))),
        }
    }
}

impl<E> ResilienceError<ResilienceError<E>> {
    /// Removes one level of nesting, as produced by wrapping one policy's call in another's.
    pub fn flatten(self) -> ResilienceError<E> {
        match self {
            Self::Inner(inner) => inner,
            other => other.map_inner(|_| unreachable!("Inner was matched above")),
        }
    }
}

impl<E: Classify> Classify for ResilienceError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Inner(e) => e.kind(),
            rejection => rejection.rejection_kind().unwrap_or(ErrorKind::Internal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("boom")]
    struct Boom;

    impl Classify for Boom {
        fn kind(&self) -> ErrorKind {
            ErrorKind::Invalid
        }
    }

    #[test]
    fn kinds_follow_the_table() {
        let name: Arc<str> = Arc::from("payments");
        let wait = Some(Duration::from_secs(2));
        let cases: Vec<(ResilienceError<Boom>, ErrorKind)> = vec![
            (ResilienceError::Inner(Boom), ErrorKind::Invalid),
            (
                ResilienceError::Timeout {
                    after: Duration::from_secs(1),
                },
                ErrorKind::Timeout,
            ),
            (
                ResilienceError::CircuitOpen {
                    breaker: name.clone(),
                    retry_after: wait,
                },
                ErrorKind::Unavailable,
            ),
            (
                ResilienceError::BulkheadFull {
                    bulkhead: name.clone(),
                    max_concurrent: 4,
                    waited: Duration::ZERO,
                },
                ErrorKind::Unavailable,
            ),
            (
                ResilienceError::RateLimited {
                    limiter: name,
                    retry_after: wait,
                },
                ErrorKind::RateLimited { retry_after: wait },
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error}");
        }
    }

    #[test]
    fn messages_name_the_policy() {
        let error: ResilienceError<Boom> = ResilienceError::BulkheadFull {
            bulkhead: Arc::from("smtp"),
            max_concurrent: 8,
            waited: Duration::from_millis(100),
        };
        assert_eq!(
            error.to_string(),
            "bulkhead \"smtp\" is full (8 concurrent calls), waited 100ms"
        );
        let error: ResilienceError<Boom> = ResilienceError::CircuitOpen {
            breaker: Arc::from("stripe"),
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            error.to_string(),
            "circuit breaker \"stripe\" is open, retry after 3s"
        );
        assert_eq!(ResilienceError::Inner(Boom).to_string(), "boom");
    }

    #[test]
    fn inner_accessors_and_flatten() {
        let nested: ResilienceError<ResilienceError<Boom>> =
            ResilienceError::Inner(ResilienceError::Inner(Boom));
        let flat = nested.flatten();
        assert!(flat.inner().is_some());
        assert!(!flat.is_rejection());
        assert!(flat.into_inner().is_some());
        let nested: ResilienceError<ResilienceError<Boom>> = ResilienceError::Timeout {
            after: Duration::from_secs(1),
        };
        let flat = nested.flatten();
        assert!(flat.is_rejection());
        assert!(flat.inner().is_none());
    }

    #[test]
    fn into_inner_or_else_maps_rejections_into_the_port_error() {
        #[derive(Debug, PartialEq)]
        enum PortError {
            Call,
            Refused(ErrorKind),
        }
        let mapped = ResilienceError::Inner(PortError::Call).into_inner_or_else(|r| {
            PortError::Refused(r.rejection_kind().unwrap_or(ErrorKind::Internal))
        });
        assert_eq!(mapped, PortError::Call);
        let mapped = ResilienceError::<PortError>::Timeout {
            after: Duration::from_secs(1),
        }
        .into_inner_or_else(|r| {
            PortError::Refused(r.rejection_kind().unwrap_or(ErrorKind::Internal))
        });
        assert_eq!(mapped, PortError::Refused(ErrorKind::Timeout));
    }
}
