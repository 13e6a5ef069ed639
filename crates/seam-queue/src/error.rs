//! What can go wrong publishing, consuming and settling messages, by meaning.

use seam_core::{Classify, ErrorKind};
use uuid::Uuid;

/// A boxed error from a backend or decoder, kept as the source of a port error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` whose error defaults to the queue port's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure of the queue port. Each variant answers [`Classify::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No queue is bound to the routing key, so the message would be lost (AMQP `mandatory`).
    /// Nothing was published. `Invalid`: a topology or caller mistake, retrying cannot help.
    #[error("no queue is bound to routing key {routing_key:?}: the message was not published")]
    Unroutable {
        /// The routing key published to.
        routing_key: String,
    },

    /// The queue or dead letter asked for does not exist. `NotFound`.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. ``queue `orders` `` or `dead letter 0192…`.
        what: String,
    },

    /// The request or the message is malformed (an empty routing key, a payload that does
    /// not decode into the expected type, ...). `Invalid`.
    #[error("invalid: {message}")]
    Invalid {
        /// What is wrong.
        message: String,
        /// The underlying decoding error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// The delivery's lease ran out and the message was handed to another consumer, so
    /// this delivery can no longer be settled; the other delivery will settle it. `Conflict`.
    #[error(
        "the lease on message {message_id} expired and it was redelivered; this delivery can no longer be settled"
    )]
    LeaseExpired {
        /// The message whose lease was lost.
        message_id: Uuid,
    },

    /// The broker cannot be reached or refuses work. `Unavailable`.
    #[error("the {adapter} queue is unavailable: {source}")]
    Unavailable {
        /// The adapter, e.g. `"sql"`.
        adapter: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },

    /// A passing fault (lock contention, connection reset); the call may succeed if retried.
    /// `Transient`.
    #[error("transient {adapter} queue failure: {source}")]
    Transient {
        /// The adapter.
        adapter: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },

    /// The call did not finish in time; whether it took effect is unknown. `Timeout`.
    #[error("the {adapter} queue did not answer in time: {source}")]
    Timeout {
        /// The adapter.
        adapter: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },

    /// Any other backend failure, with the kind the adapter classified it as.
    #[error("{adapter} queue error ({kind}): {source}")]
    Backend {
        /// The adapter.
        adapter: &'static str,
        /// The kind, as classified by the adapter.
        kind: ErrorKind,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
}

impl Error {
    /// An [`Error::Invalid`] without a source.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid {
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::NotFound`] naming what was missing.
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// The error for a backend failure of `kind`: `Unavailable`, `Transient` and `Timeout`
    /// get their own variants, anything else is [`Error::Backend`].
    pub fn backend(adapter: &'static str, kind: ErrorKind, source: impl Into<BoxError>) -> Self {
        let source = source.into();
        match kind {
            ErrorKind::Unavailable => Self::Unavailable { adapter, source },
            ErrorKind::Transient => Self::Transient { adapter, source },
            ErrorKind::Timeout => Self::Timeout { adapter, source },
            kind => Self::Backend {
                adapter,
                kind,
                source,
            },
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unroutable { .. } | Self::Invalid { .. } => ErrorKind::Invalid,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::LeaseExpired { .. } => ErrorKind::Conflict,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Timeout { .. } => ErrorKind::Timeout,
            Self::Backend { kind, .. } => *kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let io = || std::io::Error::other("boom");
        assert_eq!(
            Error::Unroutable {
                routing_key: "a.b".into()
            }
            .kind(),
            ErrorKind::Invalid
        );
        assert_eq!(Error::not_found("queue `x`").kind(), ErrorKind::NotFound);
        assert_eq!(
            Error::backend("sql", ErrorKind::Unavailable, io()).kind(),
            ErrorKind::Unavailable
        );
        assert!(matches!(
            Error::backend("sql", ErrorKind::Transient, io()),
            Error::Transient { .. }
        ));
        assert!(matches!(
            Error::backend("sql", ErrorKind::Timeout, io()),
            Error::Timeout { .. }
        ));
        let internal = Error::backend("sql", ErrorKind::Internal, io());
        assert!(matches!(internal, Error::Backend { .. }));
        assert_eq!(internal.kind(), ErrorKind::Internal);
        assert_eq!(
            Error::LeaseExpired {
                message_id: Uuid::nil()
            }
            .kind(),
            ErrorKind::Conflict
        );
    }
}
