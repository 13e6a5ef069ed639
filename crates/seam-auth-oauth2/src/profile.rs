//! Profile mapping: the ID token's claims (names from configuration) -> a [`Profile`]
//! -> a Seam [`User`], through the repository port.
//!
//! An account already linked signs in as its user. Otherwise a *verified* e-mail
//! address links it to the user with that address, or creates one. An address the
//! provider has not verified never links to, nor creates, an account: whoever
//! controls an unverified address at some provider could otherwise take over (or
//! pre-register) the account of the address's real owner.

use std::sync::Arc;

use seam_auth::Error;
use seam_domain::{EmailAddress, NewUser, User};
use seam_repository::{DynIdentityRepository, DynUserRepository};
use serde_json::Value;

use crate::config::ClaimNames;
use crate::error::repository_error;
use crate::id_token::Claims;

/// What the provider says about the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The provider's stable account id.
    pub subject: String,
    /// The e-mail address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider verified that address.
    pub email_verified: bool,
    /// The display name, if given.
    pub name: Option<String>,
    /// The picture URL, if given.
    pub picture: Option<String>,
}

impl Profile {
    /// Reads a profile from claims, under the configured claim names.
    ///
    /// # Errors
    ///
    /// `Error::MissingClaim` without a subject, `Error::InvalidClaim` when a claim has
    /// the wrong type.
    pub fn from_claims(claims: &Claims, names: &ClaimNames) -> Result<Self, Error> {
        let text = |name: &str| -> Result<Option<String>, Error> {
            match claims.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // Some providers send numeric subjects.
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(Error::invalid_claim(name, "must be a string")),
            }
        };
        let subject = text(&names.subject)?.ok_or_else(|| Error::missing_claim(&names.subject))?;
        // Some providers send the flag as the string "true".
        let email_verified = match claims.get(&names.email_verified) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok(Self {
            subject,
            email: text(&names.email)?,
            email_verified,
            name: text(&names.name)?,
            picture: text(&names.picture)?,
        })
    }

    /// A display name for a new user: the name claim cleaned up, else the address's
    /// local part.
    fn display_name(&self, email: &EmailAddress) -> String {
        let cleaned: String = self
            .name
            .as_deref()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_control())
            .take(NewUser::MAX_NAME_LEN)
            .collect();
        if cleaned.trim().is_empty() {
            let address = email.as_str();
            address
                .split('@')
                .next()
                .unwrap_or(address)
                .chars()
                .take(NewUser::MAX_NAME_LEN)
                .collect()
        } else {
            cleaned
        }
    }
}

/// Finds or creates the user an external account signs in as.
#[derive(Debug, Clone)]
pub(crate) struct ProfileMapper {
    pub(crate) users: Arc<DynUserRepository>,
    pub(crate) identities: Arc<DynIdentityRepository>,
}

impl ProfileMapper {
    pub(crate) async fn user_for(&self, issuer: &str, profile: &Profile) -> Result<User, Error> {
        // Two attempts: a concurrent first sign-in of the same account may link it
        // between our read and our write; the second pass then finds that link.
        for _ in 0..2 {
            if let Some(identity) = self
                .identities
                .find(issuer, &profile.subject)
                .await
                .map_err(repository_error)?
            {
                match self.users.get(identity.user_id).await {
                    Ok(user) => return Ok(user),
                    Err(seam_repository::Error::NotFound { .. }) => {
                        // The user is gone and the link with it (memory adapter).
                        let _ = self.identities.unlink(issuer, &profile.subject).await;
                    }
                    Err(other) => return Err(repository_error(other)),
                }
            }
            let user = self.user_by_email(profile).await?;
            match self
                .identities
                .link(issuer, &profile.subject, user.id, profile.email.as_deref())
                .await
            {
                Ok(_) => {
                    tracing::info!(
                        user.id = %user.id,
                        oidc.issuer = issuer,
                        "linked an external identity to a user"
                    );
                    return Ok(user);
                }
                Err(seam_repository::Error::AlreadyExists { .. }) => continue,
                Err(other) => return Err(repository_error(other)),
            }
        }
        Err(Error::Internal(
            "the external identity keeps changing while signing in".to_owned(),
        ))
    }

    async fn user_by_email(&self, profile: &Profile) -> Result<User, Error> {
        let raw = profile
            .email
            .as_deref()
            .ok_or_else(|| Error::missing_claim("email"))?;
        let email =
            EmailAddress::parse(raw).map_err(|e| Error::invalid_claim("email", e.to_string()))?;
        if !profile.email_verified {
            return Err(Error::forbidden(
                "the identity provider has not verified the e-mail address",
            ));
        }
        if let Some(user) = self
            .users
            .find_by_email(&email)
            .await
            .map_err(repository_error)?
        {
            return Ok(user);
        }
        let new_user = NewUser::new(email.clone(), &profile.display_name(&email))
            .map_err(|e| Error::invalid_claim("name", e.to_string()))?;
        match self.users.create(new_user).await {
            Ok(user) => Ok(user),
            // Created concurrently (another sign-in, a registration): use that one.
            Err(seam_repository::Error::AlreadyExists { .. }) => self
                .users
                .find_by_email(&email)
                .await
                .map_err(repository_error)?
                .ok_or_else(|| Error::Internal("a user vanished while signing in".to_owned())),
            Err(other) => Err(repository_error(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Claims {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn claims_map_under_configured_names() {
        let names = ClaimNames {
            email: "mail".to_owned(),
            email_verified: "mail_ok".to_owned(),
            ..ClaimNames::default()
        };
        let profile = Profile::from_claims(
            &claims(json!({"sub": 42, "mail": "a@b.test", "mail_ok": "true", "name": "A"})),
            &names,
        )
        .unwrap();
        assert_eq!(profile.subject, "42");
        assert_eq!(profile.email.as_deref(), Some("a@b.test"));
        assert!(profile.email_verified);
        assert!(Profile::from_claims(&claims(json!({"email": "x"})), &names).is_err());
        assert!(Profile::from_claims(&claims(json!({"sub": "s", "name": ["x"]})), &names).is_err());
    }
}
