//! E-mail addresses, validated at parse.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DomainError;

/// A syntactically valid e-mail address (RFC 5322 `addr-spec`, no display name), at
/// most 254 characters, whose domain has at least one dot. The domain is stored lower
/// case (domains are case-insensitive); the local part is kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// The longest address accepted (RFC 5321 path limit minus the angle brackets).
    pub const MAX_LEN: usize = 254;

    /// Parses an address such as `ada@example.com`.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] on field `email` naming the problem.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(DomainError::invalid("email", "must not be empty"));
        }
        if text.len() > Self::MAX_LEN {
            return Err(DomainError::invalid(
                "email",
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        let options = email_address::Options::default().without_display_text();
        let parsed =
            email_address::EmailAddress::parse_with_options(text, options).map_err(|error| {
                DomainError::invalid("email", format!("is not a valid address: {error}"))
            })?;
        let domain = parsed.domain().to_ascii_lowercase();
        if !domain.contains('.') || domain.starts_with('[') {
            return Err(DomainError::invalid(
                "email",
                "must have a domain name such as example.com",
            ));
        }
        Ok(Self(format!("{}@{domain}", parsed.local_part())))
    }

    /// The address as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`, lower case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for EmailAddress {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_keep_the_local_part_and_lower_the_domain() {
        let email = EmailAddress::parse(" Ada.Lovelace+shop@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace+shop@example.com");
        assert_eq!(email.domain(), "example.com");
    }

    #[test]
    fn invalid_addresses_are_refused_with_a_reason() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "ada lovelace@example.com",
            "Ada <ada@example.com>",
            "ada@localhost",
            "ada@[127.0.0.1]",
        ] {
            let error = EmailAddress::parse(bad).unwrap_err();
            assert!(error.to_string().starts_with("email: "), "{bad:?}: {error}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(EmailAddress::parse(&long).is_err());
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
        assert_eq!(
            serde_json::from_str::<EmailAddress>("\"a@b.io\"")
                .unwrap()
                .as_str(),
            "a@b.io"
        );
    }
}
