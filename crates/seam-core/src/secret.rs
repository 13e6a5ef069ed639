//! Values that must never be shown: API keys, passwords, tokens, connection strings.
//!
//! [`Secret`] differs from [`secrecy::SecretBox`] in one way that matters here: it
//! implements `Display` and `Serialize` as the redaction marker, so a whole config
//! struct can be logged or dumped as JSON at start-up without leaking what it holds.

use std::fmt;
use std::str::FromStr;

pub use secrecy::ExposeSecret;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// What every redacted value prints as.
pub const REDACTED: &str = "[REDACTED]";

/// A value whose `Debug`, `Display` and serde `Serialize` output never show it, and
/// whose memory is zeroed when dropped.
///
/// Read the value with [`ExposeSecret::expose_secret`], at the one place that needs it.
///
/// ```
/// use seam_core::{ExposeSecret, SecretString};
///
/// let key: SecretString = "sk_live_123".parse().unwrap();
/// assert_eq!(format!("{key:?} {key}"), "[REDACTED] [REDACTED]");
/// assert_eq!(serde_json::to_string(&key).unwrap(), "\"[REDACTED]\"");
/// assert_eq!(key.expose_secret(), "sk_live_123");
/// ```
pub struct Secret<T: Zeroize>(T);

/// The most common secret: a string such as an API key or a password.
pub type SecretString = Secret<String>;

impl<T: Zeroize> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }
}

impl<T: Zeroize> ExposeSecret<T> for Secret<T> {
    fn expose_secret(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize + Default> Default for Secret<T> {
    fn default() -> Self {
        Self(T::default())
    }
}

impl<T: Zeroize> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T: Zeroize> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret<String> {
    /// Accepts a string, and also an integer or a boolean as its text: layered config
    /// (environment variables in particular) may have parsed a password such as
    /// `12345` as a number before it reaches the secret.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LenientString).map(Self)
    }
}

impl<'de> Deserialize<'de> for Secret<Vec<u8>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<u8>::deserialize(deserializer).map(Self)
    }
}

struct LenientString;

impl serde::de::Visitor<'_> for LenientString {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (quote values that look like decimals)")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<String, E> {
        Ok(value)
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_i128<E: serde::de::Error>(self, value: i128) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_u128<E: serde::de::Error>(self, value: u128) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<String, E> {
        Ok(value.to_string())
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl FromStr for SecretString {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize, Deserialize)]
    struct Config {
        user: String,
        password: SecretString,
    }

    #[test]
    fn never_shown_in_debug_display_or_serde() {
        let config: Config =
            serde_json::from_str(r#"{"user":"ada","password":"hunter2"}"#).unwrap();
        assert_eq!(config.password.expose_secret(), "hunter2");
        let debug = format!("{config:?}");
        let json = serde_json::to_string(&config).unwrap();
        for shown in [debug, json, config.password.to_string()] {
            assert!(!shown.contains("hunter2"), "leaked: {shown}");
            assert!(shown.contains(REDACTED), "not marked: {shown}");
        }
    }

    #[test]
    fn numbers_and_booleans_are_read_as_their_text() {
        let from_number: SecretString = serde_json::from_str("12345").unwrap();
        assert_eq!(from_number.expose_secret(), "12345");
        let from_bool: SecretString = serde_json::from_str("true").unwrap();
        assert_eq!(from_bool.expose_secret(), "true");
        assert!(serde_json::from_str::<SecretString>("1.5").is_err());
    }

    #[test]
    fn clone_keeps_value() {
        let secret = SecretString::from("abc");
        assert_eq!(secret.clone().expose_secret(), "abc");
    }
}
