//! The auth port's error: why a credential was refused, classified for HTTP and retries.

use seam_core::{Classify, ErrorKind};

/// A boxed cause, kept for logs.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The auth port's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest attacker-controlled value (issuer, key id, algorithm) an error keeps.
const MAX_ECHO: usize = 128;

/// Why authentication or a token operation failed.
///
/// `Display` is safe to log and to show: it never contains a token, a refresh token,
/// a session id or a key. Values read from an unverified token (issuer, key id,
/// algorithm) are kept only clipped to 128 characters and stripped of control
/// characters. [`reason`](Self::reason) gives a stable short code for logs and
/// metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No credential was presented (no `Authorization` header, no session cookie).
    #[error("no credentials were presented")]
    MissingCredentials,
    /// The credential is not a well-formed token (bad base64, bad JSON, wrong scheme).
    #[error("malformed credentials: {reason}")]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The signature does not verify (tampered payload, wrong key).
    #[error("the token signature is invalid")]
    InvalidSignature,
    /// The token's `exp` has passed (beyond the configured leeway).
    #[error("the token has expired")]
    Expired,
    /// The token's `nbf` is still in the future (beyond the configured leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token's `iss` is not the issuer it was checked against.
    #[error("the token was issued by {found:?}, not by the expected issuer")]
    WrongIssuer {
        /// The issuer the token names.
        found: String,
    },
    /// The token's `aud` does not name this service.
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// No key of the issuer has the token's `kid`, even after refreshing the issuer's keys.
    #[error("issuer {issuer:?} has no key {kid:?}")]
    UnknownKey {
        /// The issuer whose keys were searched.
        issuer: String,
        /// The key id the token names, if any.
        kid: Option<String>,
    },
    /// The token's issuer is not one this service trusts.
    #[error("issuer {issuer:?} is not trusted")]
    UntrustedIssuer {
        /// The issuer the token names.
        issuer: String,
    },
    /// The token (or its family) was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// The token's algorithm is not allowed for its issuer or key (`none`, HS* with an
    /// RSA key, ...).
    #[error("algorithm {algorithm:?} is not allowed")]
    DisallowedAlgorithm {
        /// The algorithm the token names.
        algorithm: String,
    },
    /// A required claim is absent.
    #[error("the token lacks the required claim {claim:?}")]
    MissingClaim {
        /// The claim's name.
        claim: String,
    },
    /// A claim is present but has the wrong shape.
    #[error("the claim {claim:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A refresh token that was already rotated was presented again: its whole family
    /// is revoked, since one of the two holders is an attacker.
    #[error("refresh token reuse detected; the token family is revoked")]
    RefreshReuseDetected,
    /// The grant (refresh token, authorization code) is unknown, expired or revoked
    /// (OAuth2 `invalid_grant`): the caller must sign in again.
    #[error("invalid grant: {reason}")]
    InvalidGrant {
        /// Why, without the grant itself.
        reason: String,
    },
    /// The session is unknown, ended, or past its idle or absolute timeout.
    #[error("the session has expired or does not exist")]
    SessionExpired,
    /// The sign-in callback's `state` does not match the one issued (possible CSRF).
    #[error("the sign-in state does not match")]
    StateMismatch,
    /// The ID token's `nonce` does not match the one issued (possible replay).
    #[error("the ID token nonce does not match")]
    NonceMismatch,
    /// The caller is authenticated but lacks a role or scope.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// What is missing (a role or scope name; never a credential).
        reason: String,
    },
    /// The request or configuration is wrong (bad TTL, bad key, unknown algorithm).
    #[error("invalid auth request: {0}")]
    Invalid(String),
    /// The identity provider (JWKS endpoint, token endpoint) cannot be reached or
    /// answers with errors, and no usable cached answer is left.
    #[error("identity provider {provider:?} unavailable: {message}")]
    ProviderUnavailable {
        /// The provider (issuer or endpoint host).
        provider: String,
        /// What happened, without credentials.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A passing fault in a store (deny-list, refresh-token store, session store).
    #[error("auth store unavailable: {message}")]
    StoreUnavailable {
        /// What happened.
        message: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// Decrypting or encrypting a stored token failed (wrong key, tampered ciphertext).
    #[error("token encryption failed: {0}")]
    Crypto(String),
    /// A bug or broken invariant on our side (signing failed, a key could not be encoded).
    #[error("internal auth error: {0}")]
    Internal(String),
}

/// Keeps an attacker-controlled value short and printable.
pub(crate) fn clip(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ECHO)
        .collect()
}

impl Error {
    /// An [`Error::Malformed`] with this reason.
    pub fn malformed(reason: impl Into<String>) -> Self {
        Self::Malformed {
            reason: reason.into(),
        }
    }

    /// An [`Error::WrongIssuer`] naming the issuer found (clipped).
    pub fn wrong_issuer(found: &str) -> Self {
        Self::WrongIssuer { found: clip(found) }
    }

    /// An [`Error::UntrustedIssuer`] naming the issuer found (clipped).
    pub fn untrusted_issuer(issuer: &str) -> Self {
        Self::UntrustedIssuer {
            issuer: clip(issuer),
        }
    }

    /// An [`Error::UnknownKey`] (values clipped).
    pub fn unknown_key(issuer: &str, kid: Option<&str>) -> Self {
        Self::UnknownKey {
            issuer: clip(issuer),
            kid: kid.map(clip),
        }
    }

    /// An [`Error::DisallowedAlgorithm`] (clipped).
    pub fn disallowed_algorithm(algorithm: &str) -> Self {
        Self::DisallowedAlgorithm {
            algorithm: clip(algorithm),
        }
    }

    /// An [`Error::MissingClaim`].
    pub fn missing_claim(claim: impl Into<String>) -> Self {
        Self::MissingClaim {
            claim: claim.into(),
        }
    }

    /// An [`Error::InvalidClaim`].
    pub fn invalid_claim(claim: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidClaim {
            claim: claim.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::InvalidGrant`] with this reason.
    pub fn invalid_grant(reason: impl Into<String>) -> Self {
        Self::InvalidGrant {
            reason: reason.into(),
        }
    }

    /// An [`Error::Forbidden`] with this reason.
    pub fn forbidden(reason: impl Into<String>) -> Self {
        Self::Forbidden {
            reason: reason.into(),
        }
    }

    /// An [`Error::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid(reason.into())
    }

    /// An [`Error::ProviderUnavailable`] without an underlying error.
    pub fn provider_unavailable(provider: impl Into<String>, message: impl Into<String>) -> Self {
        Self::ProviderUnavailable {
            provider: provider.into(),
            message: message.into(),
            source: None,
        }
    }

    /// An [`Error::StoreUnavailable`] wrapping `source`.
    pub fn store(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::StoreUnavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A stable, short code for logs, metrics and the `error_description` of a
    /// `WWW-Authenticate` header (`"expired"`, `"invalid_signature"`, ...).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::Malformed { .. } => "malformed",
            Self::InvalidSignature => "invalid_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::UnknownKey { .. } => "unknown_key",
            Self::UntrustedIssuer { .. } => "untrusted_issuer",
            Self::Revoked => "revoked",
            Self::DisallowedAlgorithm { .. } => "disallowed_algorithm",
            Self::MissingClaim { .. } => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::InvalidGrant { .. } => "invalid_grant",
            Self::SessionExpired => "session_expired",
            Self::StateMismatch => "state_mismatch",
            Self::NonceMismatch => "nonce_mismatch",
            Self::Forbidden { .. } => "forbidden",
            Self::Invalid(_) => "invalid_request",
            Self::ProviderUnavailable { .. } => "provider_unavailable",
            Self::StoreUnavailable { .. } => "store_unavailable",
            Self::Crypto(_) => "crypto",
            Self::Internal(_) => "internal",
        }
    }

    /// Whether the error says the presented credential is not acceptable (an HTTP 401
    /// with `WWW-Authenticate: Bearer error="invalid_token"`), as opposed to a missing
    /// credential, a permission problem or an outage.
    pub fn is_invalid_credential(&self) -> bool {
        self.kind() == ErrorKind::Unauthorized && !matches!(self, Self::MissingCredentials)
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingCredentials
            | Self::Malformed { .. }
            | Self::InvalidSignature
            | Self::Expired
            | Self::NotYetValid
            | Self::WrongIssuer { .. }
            | Self::WrongAudience
            | Self::UnknownKey { .. }
            | Self::UntrustedIssuer { .. }
            | Self::Revoked
            | Self::DisallowedAlgorithm { .. }
            | Self::MissingClaim { .. }
            | Self::InvalidClaim { .. }
            | Self::RefreshReuseDetected
            | Self::InvalidGrant { .. }
            | Self::SessionExpired
            | Self::StateMismatch
            | Self::NonceMismatch
            | Self::Crypto(_) => ErrorKind::Unauthorized,
            Self::Forbidden { .. } => ErrorKind::Forbidden,
            Self::Invalid(_) => ErrorKind::Invalid,
            Self::ProviderUnavailable { .. } | Self::StoreUnavailable { .. } => {
                ErrorKind::Unavailable
            }
            Self::Internal(_) => ErrorKind::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attacker_values_are_clipped_and_printable() {
        let long = format!("https://evil\n{}", "a".repeat(1000));
        let error = Error::untrusted_issuer(&long);
        let shown = error.to_string();
        assert!(!shown.contains('\n'));
        assert!(shown.len() < 200, "{shown}");
        assert_eq!(error.reason(), "untrusted_issuer");
        assert_eq!(error.kind(), ErrorKind::Unauthorized);
    }

    #[test]
    fn kinds() {
        assert_eq!(Error::forbidden("role admin").kind(), ErrorKind::Forbidden);
        assert_eq!(
            Error::provider_unavailable("idp", "down").kind(),
            ErrorKind::Unavailable
        );
        assert!(Error::Expired.is_invalid_credential());
        assert!(!Error::MissingCredentials.is_invalid_credential());
        assert!(!Error::forbidden("x").is_invalid_credential());
    }
}
