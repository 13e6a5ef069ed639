//! Why a domain value was refused.

use seam_core::{Classify, ErrorKind};

/// A value or state change the domain refuses. The message names the field and the
/// rule, and is safe to show to an API client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// A value does not satisfy its rule.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, as a client would name it (`email`, `lines[0].quantity`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The currency is not an ISO 4217 currency with a fixed number of minor units.
    #[error("currency: {code:?} is not a supported ISO 4217 currency code")]
    UnsupportedCurrency {
        /// The code given.
        code: String,
    },
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: cannot combine {left} with {right}")]
    CurrencyMismatch {
        /// The first currency.
        left: String,
        /// The second currency.
        right: String,
    },
    /// An amount left the range of the minor-unit counter.
    #[error("amount overflow")]
    Overflow,
    /// A state change that the entity's life cycle forbids.
    #[error("cannot move {entity} from {from} to {to}")]
    InvalidTransition {
        /// The entity (`order`).
        entity: &'static str,
        /// The current state.
        from: String,
        /// The state asked for.
        to: String,
    },
}

impl DomainError {
    /// An invalid value of `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with its field prefixed (`quantity` -> `lines[2].quantity`).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::Invalid { field, message } => Self::Invalid {
                field: format!("{prefix}.{field}"),
                message,
            },
            other => other,
        }
    }
}

impl Classify for DomainError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidTransition { .. } => ErrorKind::Conflict,
            _ => ErrorKind::Invalid,
        }
    }
}
