//! RabbitMQ failures, translated into the queue port's errors at this edge only.

use std::time::Duration;

use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use seam_core::ErrorKind;
use seam_queue::Error;

/// The adapter name in errors and metrics.
pub(crate) const ADAPTER: &str = "amqp";

/// What went wrong talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AmqpError {
    /// The client or the broker failed.
    #[error(transparent)]
    Lapin(#[from] lapin::Error),
    /// The operation's deadline passed.
    #[error("{operation}: no answer within {after:?}")]
    Elapsed {
        /// What was being done.
        operation: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The broker refused a published message (publisher confirm `nack`).
    #[error("the broker refused the message (publisher confirm nack)")]
    Nacked,
    /// No connection, and the next attempt waits for the backoff.
    #[error("not connected to RabbitMQ: {0}")]
    Disconnected(String),
}

impl AmqpError {
    /// The kind of this failure.
    pub(crate) fn kind(&self) -> ErrorKind {
        match self {
            Self::Elapsed { .. } => ErrorKind::Timeout,
            Self::Nacked => ErrorKind::Transient,
            Self::Disconnected(_) => ErrorKind::Unavailable,
            Self::Lapin(error) => classify_lapin(error),
        }
    }

    /// Whether the connection should be dropped and made again on the next call.
    pub(crate) fn breaks_connection(&self) -> bool {
        match self {
            Self::Lapin(error) => !error.is_amqp_soft_error(),
            Self::Elapsed { .. } | Self::Disconnected(_) => true,
            Self::Nacked => false,
        }
    }
}

fn classify_lapin(error: &lapin::Error) -> ErrorKind {
    match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND) => ErrorKind::NotFound,
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) => ErrorKind::Forbidden,
            // A declaration that contradicts an existing queue: a deployment mistake.
            AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED) => ErrorKind::Internal,
            AMQPErrorKind::Soft(AMQPSoftError::CONTENTTOOLARGE) => ErrorKind::Invalid,
            AMQPErrorKind::Soft(_) => ErrorKind::Transient,
            AMQPErrorKind::Hard(_) => ErrorKind::Unavailable,
        },
        lapin::ErrorKind::IOError(_)
        | lapin::ErrorKind::RuntimeShutdownError(_)
        | lapin::ErrorKind::InvalidConnectionState(_)
        | lapin::ErrorKind::InvalidChannelState(..)
        | lapin::ErrorKind::InvalidChannel(_)
        | lapin::ErrorKind::MissingHeartbeatError
        | lapin::ErrorKind::ChannelsLimitReached => ErrorKind::Unavailable,
        lapin::ErrorKind::AuthProviderError(_) => ErrorKind::Unauthorized,
        _ => ErrorKind::Internal,
    }
}

impl From<AmqpError> for Error {
    fn from(error: AmqpError) -> Self {
        let kind = error.kind();
        match kind {
            ErrorKind::NotFound => Error::not_found(format!("broker object ({error})")),
            kind => Error::backend(ADAPTER, kind, error),
        }
    }
}

#[cfg(test)]
mod tests {
    use seam_core::Classify;

    use super::*;

    #[test]
    fn classifies() {
        let io = AmqpError::Lapin(lapin::Error::from(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        )));
        assert!(io.breaks_connection());
        assert_eq!(Error::from(io).kind(), ErrorKind::Unavailable);
        let elapsed = AmqpError::Elapsed {
            operation: "publish",
            after: Duration::from_secs(1),
        };
        assert_eq!(Error::from(elapsed).kind(), ErrorKind::Timeout);
        assert_eq!(Error::from(AmqpError::Nacked).kind(), ErrorKind::Transient);
        assert_eq!(
            Error::from(AmqpError::Disconnected("backoff".into())).kind(),
            ErrorKind::Unavailable
        );
    }
}
