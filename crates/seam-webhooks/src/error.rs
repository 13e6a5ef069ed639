//! Why a webhook failed verification: detail for logs and metrics, never for the sender.

/// Why a webhook request failed verification.
///
/// The variants are for logs and the `reason` metric label ([`VerifyError::reason`]).
/// Answer the sender with [`VerifyError::public_message`] only, so a forger learns
/// nothing about which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme requires is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but cannot be read: empty, not visible ASCII, sent twice,
    /// a timestamp that is not a number, a signature that is not hex/base64/DER, too many
    /// signatures.
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    /// The signed timestamp is further from the clock than the tolerance, in the past
    /// (a replay) or in the future.
    #[error(
        "timestamp {timestamp} is {skew_seconds} s from now, outside the tolerance of {tolerance_seconds} s"
    )]
    TimestampOutOfTolerance {
        /// The timestamp the request carried (Unix seconds).
        timestamp: i64,
        /// The request's timestamp minus now, in seconds: negative for the past.
        skew_seconds: i64,
        /// The configured tolerance, in seconds.
        tolerance_seconds: u64,
    },
    /// The signature header holds no signature of a version this verifier supports
    /// (for example only Stripe's `v0`).
    #[error("no supported signature in header {0}")]
    NoSupportedSignature(&'static str),
    /// No signature matches any configured secret.
    #[error("no signature matches a configured secret")]
    NoMatchingSignature,
}

impl VerifyError {
    /// What to tell the sender, whatever went wrong: `"invalid signature"`.
    pub fn public_message(&self) -> &'static str {
        "invalid signature"
    }

    /// The generic HTTP status for a failed verification: `400`. Prefer
    /// [`Provider::rejection_status`](crate::Provider::rejection_status), which follows
    /// each scheme's documentation. Never a 5xx.
    pub fn http_status(&self) -> u16 {
        400
    }

    /// A short, stable name for the `reason` metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) => "missing_header",
            Self::MalformedHeader(_) => "malformed_header",
            Self::TimestampOutOfTolerance { .. } => "timestamp_out_of_tolerance",
            Self::NoSupportedSignature(_) => "no_supported_signature",
            Self::NoMatchingSignature => "no_matching_signature",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_message_never_says_why() {
        let errors = [
            VerifyError::MissingHeader("stripe-signature"),
            VerifyError::MalformedHeader("stripe-signature"),
            VerifyError::TimestampOutOfTolerance {
                timestamp: 1,
                skew_seconds: -5,
                tolerance_seconds: 300,
            },
            VerifyError::NoSupportedSignature("stripe-signature"),
            VerifyError::NoMatchingSignature,
        ];
        let mut reasons = std::collections::HashSet::new();
        for error in errors {
            assert_eq!(error.public_message(), "invalid signature");
            assert_eq!(error.http_status(), 400);
            assert!(reasons.insert(error.reason()), "{error}: reason reused");
        }
    }
}
