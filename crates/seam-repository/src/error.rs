//! What can go wrong in a repository, in terms callers can act on.

use seam_core::{Classify, ErrorKind};
use seam_domain::DomainError;

/// A boxed error from a backend driver, kept as the source of an error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` whose error defaults to the repository [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a repository operation can fail with.
///
/// Adapters translate their driver's errors (SQLSTATEs, SQLite result codes, a lost
/// connection) into these variants at their edge; callers decide on the variant or on
/// [`Classify::kind`], never on backend codes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The entity does not exist. `NotFound`.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked for (`user`, `order`, `product`).
        entity: &'static str,
        /// Its id or key.
        id: String,
    },

    /// An entity with the same unique key exists already. `AlreadyExists`.
    #[error("{entity} with {key} already exists")]
    AlreadyExists {
        /// What was created (`user`, `order`, `idempotency key`).
        entity: &'static str,
        /// The clashing key, as `field value` (`email ada@example.com`).
        key: String,
    },

    /// The change conflicts with the stored state: a stale version, or a reference to
    /// something missing or still in use. `Conflict`.
    #[error("{entity} {id}: {message}")]
    Conflict {
        /// The entity changed (`user`, `order`).
        entity: &'static str,
        /// Its id.
        id: String,
        /// What conflicts, safe to show to a client.
        message: String,
    },

    /// The request is invalid (a limit out of range, a value the schema refuses). `Invalid`.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The field or parameter.
        field: String,
        /// What is wrong.
        message: String,
    },

    /// The database cannot be reached or refuses work (down, pool exhausted, closed).
    /// `Unavailable`: retry later.
    #[error("the {adapter} repository is unavailable: {source}")]
    Unavailable {
        /// The adapter (`postgres`, `sqlite`).
        adapter: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A passing failure (deadlock, serialization failure, busy database, statement
    /// timeout): the same operation, or the whole transaction, may succeed if retried.
    /// `Transient`.
    #[error("transient {adapter} repository failure: {source}")]
    Transient {
        /// The adapter.
        adapter: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },

    /// A bug or a broken invariant: unexpected SQL error, undecodable row. `Internal`.
    #[error("internal {adapter} repository error: {message}")]
    Internal {
        /// The adapter.
        adapter: &'static str,
        /// What went wrong.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// `entity id` does not exist.
    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// `entity` with `key` exists already.
    pub fn already_exists(entity: &'static str, key: impl Into<String>) -> Self {
        Self::AlreadyExists {
            entity,
            key: key.into(),
        }
    }

    /// A conflict on `entity id`.
    pub fn conflict(entity: &'static str, id: impl ToString, message: impl Into<String>) -> Self {
        Self::Conflict {
            entity,
            id: id.to_string(),
            message: message.into(),
        }
    }

    /// The version given is not the stored one.
    pub fn stale_version(entity: &'static str, id: impl ToString, expected: i64) -> Self {
        Self::conflict(
            entity,
            id,
            format!("version {expected} is stale: it was changed since it was read"),
        )
    }

    /// An invalid `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// An internal error without a source.
    pub fn internal(adapter: &'static str, message: impl Into<String>) -> Self {
        Self::Internal {
            adapter,
            message: message.into(),
            source: None,
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::AlreadyExists { .. } => ErrorKind::AlreadyExists,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Invalid { .. } => ErrorKind::Invalid,
            Self::Unavailable { .. } => ErrorKind::Unavailable,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Internal { .. } => ErrorKind::Internal,
        }
    }
}

impl From<DomainError> for Error {
    /// A stored value the domain refuses (or a refused state change) is a client error
    /// when it came from the caller; adapters turn undecodable *rows* into `Internal`
    /// themselves.
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid { field, message } => Self::Invalid { field, message },
            other => Self::Invalid {
                field: "value".to_owned(),
                message: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_variants() {
        let io = || -> BoxError { Box::new(std::io::Error::other("reset")) };
        assert_eq!(Error::not_found("user", 1).kind(), ErrorKind::NotFound);
        assert_eq!(
            Error::already_exists("user", "email a@b.io").kind(),
            ErrorKind::AlreadyExists
        );
        assert_eq!(
            Error::stale_version("order", 7, 2).kind(),
            ErrorKind::Conflict
        );
        assert_eq!(Error::invalid("limit", "x").kind(), ErrorKind::Invalid);
        let unavailable = Error::Unavailable {
            adapter: "postgres",
            source: io(),
        };
        assert!(unavailable.is_retryable());
        let transient = Error::Transient {
            adapter: "sqlite",
            source: io(),
        };
        assert!(transient.is_retryable());
        assert!(!Error::internal("memory", "bug").is_retryable());
    }

    #[test]
    fn messages_name_the_entity() {
        assert_eq!(
            Error::stale_version("user", "42", 3).to_string(),
            "user 42: version 3 is stale: it was changed since it was read"
        );
        assert_eq!(
            Error::already_exists("user", "email a@b.io").to_string(),
            "user with email a@b.io already exists"
        );
    }
}
