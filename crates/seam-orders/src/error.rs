//! What can go wrong in a use case.

use seam_core::{Classify, ErrorKind};
use seam_domain::DomainError;

/// A use case failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrdersError {
    /// The request breaks a domain rule (message names the field).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A field refers to something that does not exist (unknown SKU or customer).
    #[error("{field}: {message}")]
    UnknownReference {
        /// The field, as the client named it.
        field: String,
        /// What was not found.
        message: String,
    },
    /// The idempotency key was used before with a different request.
    #[error("Idempotency-Key {key:?} was already used with a different request body")]
    IdempotencyMismatch {
        /// The key.
        key: String,
    },
    /// The thing asked for does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What kind of thing.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A message could not be understood; retrying cannot help.
    #[error("undecodable message: {0}")]
    Undecodable(String),
    /// The repository failed.
    #[error(transparent)]
    Repository(#[from] seam_repository::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] seam_queue::Error),
    /// Sending e-mail failed.
    #[error(transparent)]
    Email(#[from] seam_email::Error),
}

/// The result of a use case.
pub type Result<T, E = OrdersError> = std::result::Result<T, E>;

impl Classify for OrdersError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Domain(error) => error.kind(),
            Self::UnknownReference { .. } | Self::IdempotencyMismatch { .. } => ErrorKind::Invalid,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Undecodable(_) => ErrorKind::Invalid,
            Self::Repository(error) => error.kind(),
            Self::Queue(error) => error.kind(),
            Self::Email(error) => error.kind(),
        }
    }
}
