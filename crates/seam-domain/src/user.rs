//! Users (customers).

use chrono::{DateTime, Utc};
use seam_core::Id;
use serde::{Deserialize, Serialize};

use crate::email::EmailAddress;
use crate::error::DomainError;

/// The id of a [`User`].
pub type UserId = Id<User>;

/// A registered user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Its e-mail address, unique among users regardless of case.
    pub email: EmailAddress,
    /// Its display name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Incremented on every change, for optimistic concurrency.
    pub version: i64,
}

/// What is needed to create a user; validated at construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewUser {
    email: EmailAddress,
    name: String,
}

impl NewUser {
    /// The longest name accepted, in characters.
    pub const MAX_NAME_LEN: usize = 200;

    /// A new user with `email` and `name` (trimmed; 1 to 200 characters, no control
    /// characters).
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] on field `name`.
    pub fn new(email: EmailAddress, name: &str) -> Result<Self, DomainError> {
        Ok(Self {
            email,
            name: validate_name(name)?,
        })
    }

    /// The e-mail address.
    pub fn email(&self) -> &EmailAddress {
        &self.email
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Checks and trims a user's display name.
///
/// # Errors
///
/// [`DomainError::Invalid`] on field `name`.
pub(crate) fn validate_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::invalid("name", "must not be empty"));
    }
    let length = name.chars().count();
    if length > NewUser::MAX_NAME_LEN {
        return Err(DomainError::invalid(
            "name",
            format!(
                "must be at most {} characters, got {length}",
                NewUser::MAX_NAME_LEN
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            "must not contain control characters",
        ));
    }
    Ok(name.to_owned())
}

impl User {
    /// Renames the user.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] on field `name`.
    pub fn rename(&mut self, name: &str) -> Result<(), DomainError> {
        self.name = validate_name(name)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        let email = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(NewUser::new(email.clone(), "  Ada ").unwrap().name(), "Ada");
        assert_eq!(
            NewUser::new(email.clone(), " ").unwrap_err().to_string(),
            "name: must not be empty"
        );
        assert!(NewUser::new(email.clone(), &"x".repeat(201)).is_err());
        assert!(NewUser::new(email, "Ada\u{0}").is_err());
    }
}
