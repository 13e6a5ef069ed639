//! Who made a request: the authenticated identity handlers work with.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use seam_domain::UserId;
use serde::{Deserialize, Serialize};

/// An authenticated caller, whatever proved it (a JWT, a session cookie).
///
/// Built by a [`TokenValidator`](crate::TokenValidator) or a
/// [`SessionResolver`](crate::SessionResolver) after every check passed; handlers
/// authorise on [`roles`](Self::roles) and [`scopes`](Self::scopes).
///
/// `Debug` never shows the session id (it is a bearer credential).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// The subject (`sub`) as the issuer names it.
    pub subject: String,
    /// Who vouched for the subject (`iss`, or the sign-in provider).
    pub issuer: String,
    /// The Seam user the subject maps to, when known.
    pub user_id: Option<UserId>,
    /// Roles granted to the subject.
    pub roles: BTreeSet<String>,
    /// OAuth2 scopes granted to the token.
    pub scopes: BTreeSet<String>,
    /// The server-side session this principal came from, when it came from one.
    pub session_id: Option<String>,
    /// When the credential stops being valid.
    pub expires_at: DateTime<Utc>,
    /// The token's id (`jti`), when it has one; the key of the deny-list.
    pub token_id: Option<String>,
}

impl Principal {
    /// A principal with no roles, scopes, user, session or token id.
    pub fn new(
        subject: impl Into<String>,
        issuer: impl Into<String>,
        expires_at: DateTime<Utc>,
    ) -> Self {
        Self {
            subject: subject.into(),
            issuer: issuer.into(),
            user_id: None,
            roles: BTreeSet::new(),
            scopes: BTreeSet::new(),
            session_id: None,
            expires_at,
            token_id: None,
        }
    }

    /// Sets the Seam user.
    #[must_use]
    pub fn with_user(mut self, user_id: UserId) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// Adds roles.
    #[must_use]
    pub fn with_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// Adds scopes.
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Sets the session id.
    #[must_use]
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = Some(session_id.into());
        self
    }

    /// Sets the token id (`jti`).
    #[must_use]
    pub fn with_token_id(mut self, token_id: impl Into<String>) -> Self {
        self.token_id = Some(token_id.into());
        self
    }

    /// Whether the principal holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether the principal's token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether the credential has expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .field("user_id", &self.user_id)
            .field("roles", &self.roles)
            .field("scopes", &self.scopes)
            .field(
                "session_id",
                &self
                    .session_id
                    .as_ref()
                    .map(|_| seam_core::secret::REDACTED),
            )
            .field("expires_at", &self.expires_at)
            .field("token_id", &self.token_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_scopes_and_redacted_session() {
        let p = Principal::new("alice", "https://issuer", Utc::now())
            .with_roles(["admin"])
            .with_scopes(["orders:read"])
            .with_session("very-secret-session-id");
        assert!(p.has_role("admin"));
        assert!(!p.has_role("user"));
        assert!(p.has_scope("orders:read"));
        assert!(!p.has_scope("orders:write"));
        let debug = format!("{p:?}");
        assert!(!debug.contains("very-secret-session-id"), "{debug}");
        assert!(debug.contains("[REDACTED]"));
    }
}
