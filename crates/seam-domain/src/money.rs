//! Amounts of money in minor units, with the currency's own exponent.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::DomainError;

/// An ISO 4217 currency that has a fixed number of minor units (EUR 2, JPY 0, KWD 3).
///
/// Codes without minor units defined by ISO 4217 (precious metals, testing codes such
/// as `XXX`) are refused: an amount in them has no meaning in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Parses a three-letter ISO 4217 code; lower case is accepted.
    ///
    /// # Errors
    ///
    /// [`DomainError::UnsupportedCurrency`] for an unknown code or one without minor units.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        let upper = code.trim().to_ascii_uppercase();
        iso_currency::Currency::from_code(&upper)
            .filter(|currency| currency.exponent().is_some())
            .map(Self)
            .ok_or_else(|| DomainError::UnsupportedCurrency {
                code: code.chars().take(16).collect(),
            })
    }

    /// The three-letter code, upper case.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// How many decimal places the minor unit has: 2 for EUR, 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        u32::from(self.0.exponent().unwrap_or(0))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Self::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// An amount of money: an integer count of minor units and its currency.
///
/// `Money::new(1999, eur)` is 19.99 EUR; `Money::new(500, jpy)` is 500 JPY. Amounts
/// are never floating point. Serialised as `{"minor": 1999, "currency": "EUR"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// An amount of `minor` units of `currency` (negative for credits and refunds).
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Self { minor, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Self::new(0, currency)
    }

    /// Parses a decimal amount in major units, such as `"19.99"` for EUR.
    ///
    /// # Errors
    ///
    /// [`DomainError::Invalid`] for a malformed number or more decimals than the
    /// currency has; [`DomainError::Overflow`] for an amount too large.
    pub fn from_major_str(amount: &str, currency: Currency) -> Result<Self, DomainError> {
        let amount = amount.trim();
        let (negative, digits) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let exponent = currency.exponent() as usize;
        let well_formed = !whole.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
            && (!digits.contains('.') || !fraction.is_empty());
        if !well_formed {
            return Err(DomainError::invalid(
                "amount",
                format!("{amount:?} is not a decimal number"),
            ));
        }
        if fraction.len() > exponent {
            return Err(DomainError::invalid(
                "amount",
                format!(
                    "{} has {exponent} decimal place(s), {amount:?} has {}",
                    currency.code(),
                    fraction.len()
                ),
            ));
        }
        let scale = 10_i64.pow(exponent as u32);
        let whole: i64 = whole.parse().map_err(|_| DomainError::Overflow)?;
        let fraction_value: i64 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<exponent$}")
                .parse()
                .map_err(|_| DomainError::Overflow)?
        };
        let minor = whole
            .checked_mul(scale)
            .and_then(|units| units.checked_add(fraction_value))
            .ok_or(DomainError::Overflow)?;
        Ok(Self::new(if negative { -minor } else { minor }, currency))
    }

    /// The amount in minor units.
    pub const fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub const fn currency(&self) -> Currency {
        self.currency
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(&self) -> bool {
        self.minor < 0
    }

    /// The sum of two amounts in the same currency.
    ///
    /// # Errors
    ///
    /// [`DomainError::CurrencyMismatch`] or [`DomainError::Overflow`].
    pub fn checked_add(self, other: Self) -> Result<Self, DomainError> {
        self.same_currency(other)?;
        self.minor
            .checked_add(other.minor)
            .map(|minor| Self::new(minor, self.currency))
            .ok_or(DomainError::Overflow)
    }

    /// The difference of two amounts in the same currency.
    ///
    /// # Errors
    ///
    /// [`DomainError::CurrencyMismatch`] or [`DomainError::Overflow`].
    pub fn checked_sub(self, other: Self) -> Result<Self, DomainError> {
        self.same_currency(other)?;
        self.minor
            .checked_sub(other.minor)
            .map(|minor| Self::new(minor, self.currency))
            .ok_or(DomainError::Overflow)
    }

    /// The amount times a whole factor (a unit price times a quantity).
    ///
    /// # Errors
    ///
    /// [`DomainError::Overflow`].
    pub fn checked_mul(self, factor: i64) -> Result<Self, DomainError> {
        self.minor
            .checked_mul(factor)
            .map(|minor| Self::new(minor, self.currency))
            .ok_or(DomainError::Overflow)
    }

    fn same_currency(self, other: Self) -> Result<(), DomainError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(DomainError::CurrencyMismatch {
                left: self.currency.code().to_owned(),
                right: other.currency.code().to_owned(),
            })
        }
    }
}

impl fmt::Display for Money {
    /// `19.99 EUR`, `500 JPY`, `-1.250 KWD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        let sign = if self.minor < 0 { "-" } else { "" };
        let units = self.minor.unsigned_abs();
        if exponent == 0 {
            return write!(f, "{sign}{units} {}", self.currency);
        }
        let scale = 10_u64.pow(exponent);
        write!(
            f,
            "{sign}{}.{:0width$} {}",
            units / scale,
            units % scale,
            self.currency,
            width = exponent as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn currency(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn exponents_follow_iso_4217() {
        assert_eq!(currency("EUR").exponent(), 2);
        assert_eq!(currency("jpy").exponent(), 0);
        assert_eq!(currency("KWD").exponent(), 3);
        assert_eq!(currency("eur").code(), "EUR");
    }

    #[test]
    fn unknown_and_unitless_codes_are_refused() {
        for code in ["", "EU", "EURO", "ZZZ", "XAU", "XXX", "12€"] {
            assert!(
                matches!(
                    Currency::parse(code),
                    Err(DomainError::UnsupportedCurrency { .. })
                ),
                "{code:?}"
            );
        }
        assert_eq!(
            Currency::parse("ZZZ").unwrap_err().to_string(),
            "currency: \"ZZZ\" is not a supported ISO 4217 currency code"
        );
    }

    #[test]
    fn display_uses_the_exponent() {
        assert_eq!(Money::new(1999, currency("EUR")).to_string(), "19.99 EUR");
        assert_eq!(Money::new(5, currency("EUR")).to_string(), "0.05 EUR");
        assert_eq!(Money::new(500, currency("JPY")).to_string(), "500 JPY");
        assert_eq!(Money::new(-1250, currency("KWD")).to_string(), "-1.250 KWD");
    }

    #[test]
    fn parses_major_amounts() {
        let eur = currency("EUR");
        assert_eq!(Money::from_major_str("19.99", eur).unwrap().minor(), 1999);
        assert_eq!(Money::from_major_str("19.9", eur).unwrap().minor(), 1990);
        assert_eq!(Money::from_major_str("19", eur).unwrap().minor(), 1900);
        assert_eq!(Money::from_major_str("-0.5", eur).unwrap().minor(), -50);
        assert_eq!(
            Money::from_major_str("1.234", currency("KWD"))
                .unwrap()
                .minor(),
            1234
        );
        for bad in ["", "1.", ".5", "1,00", "abc", "1e3", "--1", "1.2.3"] {
            assert!(Money::from_major_str(bad, eur).is_err(), "{bad:?}");
        }
        assert_eq!(
            Money::from_major_str("1.5", currency("JPY"))
                .unwrap_err()
                .to_string(),
            "amount: JPY has 0 decimal place(s), \"1.5\" has 1"
        );
        assert_eq!(
            Money::from_major_str("99999999999999999999", eur),
            Err(DomainError::Overflow)
        );
    }

    #[test]
    fn arithmetic_checks_currency_and_overflow() {
        let eur = currency("EUR");
        let usd = currency("USD");
        let total = Money::new(100, eur)
            .checked_add(Money::new(250, eur))
            .unwrap();
        assert_eq!(total, Money::new(350, eur));
        assert!(matches!(
            Money::new(1, eur).checked_add(Money::new(1, usd)),
            Err(DomainError::CurrencyMismatch { .. })
        ));
        assert_eq!(
            Money::new(i64::MAX, eur).checked_add(Money::new(1, eur)),
            Err(DomainError::Overflow)
        );
        assert_eq!(Money::new(250, eur).checked_mul(3).unwrap().minor(), 750);
    }

    #[test]
    fn serde_shape() {
        let money = Money::new(1999, currency("EUR"));
        let json = serde_json::to_string(&money).unwrap();
        assert_eq!(json, r#"{"minor":1999,"currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), money);
        let error = serde_json::from_str::<Money>(r#"{"minor":1,"currency":"ZZZ"}"#).unwrap_err();
        assert!(error.to_string().contains("ZZZ"), "{error}");
    }

    proptest! {
        #[test]
        fn display_and_parse_round_trip(minor in -1_000_000_000_i64..1_000_000_000, code in prop::sample::select(vec!["EUR", "JPY", "KWD", "USD"])) {
            let money = Money::new(minor, currency(code));
            let text = money.to_string();
            let (amount, shown_code) = text.split_once(' ').unwrap();
            prop_assert_eq!(shown_code, code);
            prop_assert_eq!(Money::from_major_str(amount, currency(code)).unwrap(), money);
        }
    }
}
