//! What goes wrong talking to the provider, converted into the auth port's error here
//! and nowhere else. No variant carries a token, a code or a secret.

use seam_auth::Error;

/// A configuration value that is wrong: `Error::Invalid` naming the setting.
pub(crate) fn config_error(field: &str, message: impl std::fmt::Display) -> Error {
    Error::invalid(format!("OIDC configuration `{field}`: {message}"))
}

/// A failed call to one of the provider's endpoints.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ProviderError {
    /// The request did not complete (connect, TLS, timeout, reset).
    #[error("{endpoint} request failed: {source}")]
    Transport {
        endpoint: &'static str,
        #[source]
        source: oauth2::reqwest::Error,
    },
    /// The endpoint answered with an HTTP error status and no OAuth2 error body.
    #[error("{endpoint} answered HTTP {status}")]
    Status { endpoint: &'static str, status: u16 },
    /// The endpoint answered with an OAuth2 error (`invalid_grant`, ...).
    #[error("{endpoint} refused the request: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    OAuth {
        endpoint: &'static str,
        code: String,
        description: Option<String>,
    },
    /// The answer is not what the specification says it is.
    #[error("{endpoint} answered something unreadable: {message}")]
    Parse {
        endpoint: &'static str,
        message: String,
    },
}

impl ProviderError {
    /// An OAuth2 error answer, with its description clipped and made printable.
    pub(crate) fn oauth(endpoint: &'static str, code: &str, description: Option<&str>) -> Self {
        let clip =
            |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(200).collect() };
        Self::OAuth {
            endpoint,
            code: clip(code),
            description: description.map(clip),
        }
    }
}

/// Converts a provider failure, naming the provider (its issuer).
pub(crate) fn provider_error(issuer: &str, error: ProviderError) -> Error {
    match &error {
        ProviderError::OAuth { code, .. } if code == "invalid_grant" => {
            Error::invalid_grant(error.to_string())
        }
        // Our client id, secret or redirect URI is wrong: an operator must fix it.
        ProviderError::OAuth { code, .. }
            if matches!(
                code.as_str(),
                "invalid_client" | "unauthorized_client" | "unsupported_grant_type"
            ) =>
        {
            Error::Internal(format!("identity provider {issuer:?}: {error}"))
        }
        ProviderError::OAuth { .. } => Error::invalid(error.to_string()),
        ProviderError::Status { status, .. }
            if (400..500).contains(status) && *status != 429 && *status != 408 =>
        {
            Error::invalid(error.to_string())
        }
        ProviderError::Transport { .. }
        | ProviderError::Status { .. }
        | ProviderError::Parse { .. } => {
            let message = error.to_string();
            Error::ProviderUnavailable {
                provider: issuer.to_owned(),
                message,
                source: Some(Box::new(error)),
            }
        }
    }
}

/// Converts a cache (session store) failure.
pub(crate) fn store_error(error: seam_cache::Error) -> Error {
    Error::store("the session store failed", error)
}

/// Converts a repository failure while mapping a profile to a user.
pub(crate) fn repository_error(error: seam_repository::Error) -> Error {
    use seam_core::{Classify, ErrorKind};
    match error.kind() {
        ErrorKind::Unavailable
        | ErrorKind::Transient
        | ErrorKind::Timeout
        | ErrorKind::RateLimited { .. } => Error::store("the user repository failed", error),
        ErrorKind::Invalid => Error::invalid(error.to_string()),
        _ => Error::Internal(format!("user repository: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    #[test]
    fn classification() {
        let grant = provider_error(
            "idp",
            ProviderError::oauth("token", "invalid_grant", Some("gone")),
        );
        assert_eq!(grant.reason(), "invalid_grant");
        let client = provider_error("idp", ProviderError::oauth("token", "invalid_client", None));
        assert_eq!(client.kind(), ErrorKind::Internal);
        let down = provider_error(
            "idp",
            ProviderError::Status {
                endpoint: "token",
                status: 503,
            },
        );
        assert_eq!(down.kind(), ErrorKind::Unavailable);
        let limited = provider_error(
            "idp",
            ProviderError::Status {
                endpoint: "token",
                status: 429,
            },
        );
        assert_eq!(limited.kind(), ErrorKind::Unavailable);
        let bad = provider_error(
            "idp",
            ProviderError::Status {
                endpoint: "token",
                status: 400,
            },
        );
        assert_eq!(bad.kind(), ErrorKind::Invalid);
        let noisy = ProviderError::oauth("token", "invalid_request", Some("a\nb"));
        assert!(!noisy.to_string().contains('\n'));
    }
}
