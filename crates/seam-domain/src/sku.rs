//! Stock-keeping units and quantities.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DomainError;

/// A stock-keeping unit: 1 to 64 characters of `A-Z`, `0-9`, `-`, `_` and `.`,
/// starting with a letter or digit. Lower case is accepted and stored upper case, so
/// `mug-seam` and `MUG-SEAM` are the same product.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Sku(String);

impl Sku {
    /// The longest SKU accepted.
    pub const MAX_LEN: usize = 64;

    /// Parses and normalises a SKU.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] on field `sku` naming the rule broken.
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let upper = text.trim().to_ascii_uppercase();
        if upper.is_empty() {
            return Err(DomainError::invalid("sku", "must not be empty"));
        }
        if upper.len() > Self::MAX_LEN {
            return Err(DomainError::invalid(
                "sku",
                format!(
                    "must be at most {} characters, got {}",
                    Self::MAX_LEN,
                    upper.len()
                ),
            ));
        }
        if !upper.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(DomainError::invalid(
                "sku",
                "must start with a letter or a digit",
            ));
        }
        if let Some(bad) = upper
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(DomainError::invalid(
                "sku",
                format!("may contain only letters, digits, '-', '_' and '.', found {bad:?}"),
            ));
        }
        Ok(Self(upper))
    }

    /// The SKU as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Sku {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for Sku {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// How many units of a product: 1 to [`Quantity::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Quantity(NonZeroU32);

impl Quantity {
    /// The most units one order line may ask for.
    pub const MAX: u32 = 10_000;

    /// A quantity of `units`.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] on field `quantity` for 0 or more than [`Quantity::MAX`].
    pub fn new(units: u32) -> Result<Self, DomainError> {
        match NonZeroU32::new(units) {
            Some(units) if units.get() <= Self::MAX => Ok(Self(units)),
            Some(_) => Err(DomainError::invalid(
                "quantity",
                format!("must be at most {}, got {units}", Self::MAX),
            )),
            None => Err(DomainError::invalid(
                "quantity",
                "must be at least 1, got 0",
            )),
        }
    }

    /// The number of units.
    pub const fn get(&self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let units = u32::deserialize(deserializer)?;
        Self::new(units).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_normalised_and_validated() {
        assert_eq!(Sku::parse(" mug-seam ").unwrap().as_str(), "MUG-SEAM");
        assert_eq!(Sku::parse("A.B_C-1").unwrap().as_str(), "A.B_C-1");
        let cases = [
            ("", "sku: must not be empty"),
            ("-MUG", "sku: must start with a letter or a digit"),
            (
                "MUG SEAM",
                "sku: may contain only letters, digits, '-', '_' and '.', found ' '",
            ),
            (
                "MUG/1",
                "sku: may contain only letters, digits, '-', '_' and '.', found '/'",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                Sku::parse(input).unwrap_err().to_string(),
                message,
                "{input:?}"
            );
        }
        assert!(Sku::parse(&"A".repeat(65)).is_err());
        assert!(Sku::parse(&"A".repeat(64)).is_ok());
    }

    #[test]
    fn quantities_are_bounded() {
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert_eq!(
            Quantity::new(0).unwrap_err().to_string(),
            "quantity: must be at least 1, got 0"
        );
        assert!(Quantity::new(Quantity::MAX).is_ok());
        assert!(Quantity::new(Quantity::MAX + 1).is_err());
        assert!(serde_json::from_str::<Quantity>("0").is_err());
        assert!(serde_json::from_str::<Quantity>("-1").is_err());
        assert_eq!(serde_json::from_str::<Quantity>("3").unwrap().get(), 3);
    }
}
