//! The values a payment call takes and returns: ids, keys, methods, requests, payments and refunds.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use seam_domain::Money;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::status::{PaymentStatus, RefundStatus};

/// The metadata key holding the order a payment pays for; read back by
/// [`Payment::order_reference`] and by webhook event parsing.
pub const ORDER_REFERENCE_KEY: &str = "order_id";
/// Most metadata entries a request may carry (Stripe's limit).
pub const MAX_METADATA_ENTRIES: usize = 50;
/// Longest metadata key, in characters (Stripe's limit).
pub const MAX_METADATA_KEY_CHARS: usize = 40;
/// Longest metadata value, in characters (Stripe's limit).
pub const MAX_METADATA_VALUE_CHARS: usize = 500;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

fn check_identifier(field: &str, value: &str, max: usize) -> Result<()> {
    if value.is_empty() {
        return Err(Error::invalid(format!("{field} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(format!(
            "{field} must be at most {max} characters"
        )));
    }
    if !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::invalid(format!(
            "{field} must be printable ASCII without spaces"
        )));
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Checks and wraps the value: 1 to
            #[doc = concat!(stringify!($max))]
            /// printable ASCII characters, no spaces.
            ///
            /// # Errors
            ///
            /// [`Error::Invalid`] naming the rule broken (the value is not echoed).
            pub fn new(value: impl Into<String>) -> Result<Self> {
                let value = value.into();
                check_identifier($field, &value, $max)?;
                Ok(Self(value))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = Error;

            fn try_from(value: String) -> Result<Self> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;

            fn from_str(value: &str) -> Result<Self> {
                Self::new(value)
            }
        }
    };
}

string_id!(
    /// A payment's id, as the provider names it (`pi_…` at Stripe, `sbx_pi_…` in the sandbox).
    PaymentId,
    "payment id",
    255
);

string_id!(
    /// A refund's id, as the provider names it (`re_…` at Stripe).
    RefundId,
    "refund id",
    255
);

string_id!(
    /// The key that makes a mutating call safe to repeat: REQUIRED on every create,
    /// confirm, capture, cancel and refund.
    ///
    /// The same key with the same parameters answers the first call's result again
    /// (nothing is charged twice); the same key with different parameters is
    /// [`Error::IdempotencyConflict`]. Keys are scoped to the provider account, not to
    /// one operation: derive one key per operation (`order-42:create`,
    /// `order-42:refund:1`). At most 255 printable ASCII characters.
    IdempotencyKey,
    "idempotency key",
    255
);

impl IdempotencyKey {
    /// A fresh random (UUIDv7) key, for callers that have no natural one. Store it
    /// before the call: a retry after a crash must reuse it.
    pub fn generate() -> Self {
        Self(seam_core::Id::<Self>::new().to_string())
    }

    /// This key with a suffix, for the follow-up operations of one business action
    /// (`order-42` -> `order-42:capture`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the result breaks the key's rules.
    pub fn with_suffix(&self, suffix: &str) -> Result<Self> {
        Self::new(format!("{}:{suffix}", self.0))
    }
}

/// A payment method as the provider knows it: a token (`tok_…`) or a payment-method id
/// (`pm_…`) created by the provider's client-side library. Never a card number.
///
/// Construction refuses anything that looks like a primary account number (12 to 19
/// digits, spaces and dashes ignored, passing the Luhn check), so a card number cannot
/// reach Seam's logs, database or provider calls by mistake. The value is not secret
/// (a token is useless without the account's secret key) but it is still kept out of
/// `Debug` output past its prefix.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentToken(String);

impl PaymentToken {
    /// Checks and wraps a token or payment-method id.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an empty or over-long value, whitespace or control
    /// characters, or a value that looks like a card number (the value is never echoed).
    pub fn new(value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        if looks_like_pan(&value) {
            return Err(Error::invalid(
                "payment token looks like a card number: Seam accepts only provider tokens \
                 or payment-method ids (tok_…, pm_…), never card numbers",
            ));
        }
        check_identifier("payment token", &value, 255)?;
        Ok(Self(value))
    }

    /// The token.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PaymentToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix: String = self.0.chars().take(4).collect();
        write!(f, "PaymentToken({prefix}…)")
    }
}

impl TryFrom<String> for PaymentToken {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<PaymentToken> for String {
    fn from(value: PaymentToken) -> String {
        value.0
    }
}

/// Whether `value` looks like a card number: 12 to 19 digits once spaces and dashes are
/// removed, with nothing else in it, passing the Luhn check.
pub fn looks_like_pan(value: &str) -> bool {
    let digits: Vec<u32> = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_digit(10))
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    if !(12..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(position, &digit)| {
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A bank payment scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BankScheme {
    /// SEPA Direct Debit.
    SepaDebit,
    /// ACH Direct Debit (US bank accounts).
    UsBankAccount,
    /// Bacs Direct Debit (UK).
    BacsDebit,
}

impl BankScheme {
    /// The provider's name for the scheme (`sepa_debit`, `us_bank_account`, `bacs_debit`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::SepaDebit => "sepa_debit",
            Self::UsBankAccount => "us_bank_account",
            Self::BacsDebit => "bacs_debit",
        }
    }
}

/// A digital wallet.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WalletKind {
    /// Apple Pay.
    ApplePay,
    /// Google Pay.
    GooglePay,
    /// Another wallet, by its provider name.
    Other(String),
}

/// How the customer pays. Every variant carries a provider token, never raw details.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum PaymentMethod {
    /// A card, tokenised client-side (`tok_…` or `pm_…`).
    Card {
        /// The token or payment-method id.
        token: PaymentToken,
    },
    /// A bank debit with a payment method (and mandate) set up client-side. Bank
    /// payments usually stay [`PaymentStatus::Processing`] until the bank settles.
    BankTransfer {
        /// The scheme.
        scheme: BankScheme,
        /// The payment-method id (`pm_…`).
        token: PaymentToken,
    },
    /// A wallet payment, tokenised by the wallet and the provider's client library.
    Wallet {
        /// The wallet.
        kind: WalletKind,
        /// The token or payment-method id.
        token: PaymentToken,
    },
}

impl PaymentMethod {
    /// A card by its token or payment-method id.
    ///
    /// # Errors
    ///
    /// As [`PaymentToken::new`].
    pub fn card(token: impl Into<String>) -> Result<Self> {
        Ok(Self::Card {
            token: PaymentToken::new(token)?,
        })
    }

    /// The token of any variant.
    pub fn token(&self) -> &PaymentToken {
        match self {
            Self::Card { token }
            | Self::BankTransfer { token, .. }
            | Self::Wallet { token, .. } => token,
        }
    }
}

/// Who pays.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CustomerRef {
    /// A customer known to the provider (`cus_…` at Stripe).
    Provider(String),
    /// Seam's own customer id; adapters keep it in metadata (`seam_customer`).
    Internal(String),
}

/// When the money is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptureMode {
    /// Authorise and capture in one step.
    #[default]
    Automatic,
    /// Authorise only; [`PaymentService::capture`](crate::PaymentService::capture) takes
    /// the money later (the payment waits in [`PaymentStatus::RequiresCapture`]).
    Manual,
}

/// Why a payment failed, safe to show to the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The provider's error code (`card_declined`, `expired_card`, …).
    pub code: String,
    /// The issuer's decline code, when the card was declined (`insufficient_funds`, …).
    pub decline_code: Option<String>,
    /// A message fit for the customer; never contains card data.
    pub message: String,
}

/// Checks a metadata map against the provider limits.
///
/// # Errors
///
/// [`Error::Invalid`] naming the limit broken.
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<()> {
    if metadata.len() > MAX_METADATA_ENTRIES {
        return Err(Error::invalid(format!(
            "metadata has {} entries, at most {MAX_METADATA_ENTRIES} are allowed",
            metadata.len()
        )));
    }
    for (key, value) in metadata {
        if key.is_empty()
            || key.chars().count() > MAX_METADATA_KEY_CHARS
            || key.contains(['[', ']'])
            || key.chars().any(char::is_control)
        {
            return Err(Error::invalid(format!(
                "metadata key {key:?} must be 1 to {MAX_METADATA_KEY_CHARS} characters without brackets or control characters"
            )));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(Error::invalid(format!(
                "metadata value of {key:?} must be at most {MAX_METADATA_VALUE_CHARS} characters"
            )));
        }
        if looks_like_pan(value) {
            return Err(Error::invalid(format!(
                "metadata value of {key:?} looks like a card number; card numbers never pass through Seam"
            )));
        }
    }
    Ok(())
}

/// A payment to create. Build it with [`CreatePayment::new`] and the `with_…` methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreatePayment {
    /// How much, in minor units of its currency; must be positive.
    pub amount: Money,
    /// How the customer pays.
    pub method: PaymentMethod,
    /// Who pays, if known.
    pub customer: Option<CustomerRef>,
    /// Free-form key-values kept with the payment (Stripe's limits apply); the order
    /// reference lives under [`ORDER_REFERENCE_KEY`].
    pub metadata: BTreeMap<String, String>,
    /// Makes the create safe to retry. REQUIRED.
    pub idempotency_key: IdempotencyKey,
    /// When the money is taken.
    pub capture: CaptureMode,
    /// Confirm at once (default `true`); `false` leaves the payment in
    /// [`PaymentStatus::RequiresConfirmation`] until [`PaymentService::confirm`](crate::PaymentService::confirm).
    pub confirm: bool,
    /// A description shown in the provider's dashboard.
    pub description: Option<String>,
}

impl CreatePayment {
    /// A payment of `amount` by `method`, confirmed at once and captured automatically.
    pub fn new(amount: Money, method: PaymentMethod, idempotency_key: IdempotencyKey) -> Self {
        Self {
            amount,
            method,
            customer: None,
            metadata: BTreeMap::new(),
            idempotency_key,
            capture: CaptureMode::Automatic,
            confirm: true,
            description: None,
        }
    }

    /// Sets the customer.
    pub fn with_customer(mut self, customer: CustomerRef) -> Self {
        self.customer = Some(customer);
        self
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Records the order this payment pays for (metadata [`ORDER_REFERENCE_KEY`]).
    pub fn with_order_reference(self, order: impl fmt::Display) -> Self {
        self.with_metadata(ORDER_REFERENCE_KEY, order.to_string())
    }

    /// Sets the capture mode.
    pub fn with_capture(mut self, capture: CaptureMode) -> Self {
        self.capture = capture;
        self
    }

    /// Sets whether the payment is confirmed at once.
    pub fn with_confirm(mut self, confirm: bool) -> Self {
        self.confirm = confirm;
        self
    }

    /// Sets the description.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks what construction could not: a positive amount, the metadata limits and
    /// the description's length. Every adapter calls this before anything else.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.amount.minor() <= 0 {
            return Err(Error::invalid(format!(
                "amount must be positive, got {}",
                self.amount
            )));
        }
        validate_metadata(&self.metadata)?;
        if let Some(description) = &self.description {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Error::invalid(format!(
                    "description must be at most {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            if looks_like_pan(description) {
                return Err(Error::invalid(
                    "description looks like a card number; card numbers never pass through Seam",
                ));
            }
        }
        if let Some(CustomerRef::Provider(id) | CustomerRef::Internal(id)) = &self.customer {
            check_identifier("customer id", id, 255)?;
        }
        Ok(())
    }
}

/// A payment as the provider last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Payment {
    /// The provider's id.
    pub id: PaymentId,
    /// The amount asked for.
    pub amount: Money,
    /// The amount captured so far (zero until captured).
    pub amount_captured: Money,
    /// The amount refunded so far (successful and pending refunds).
    pub amount_refunded: Money,
    /// Where the payment is in its life cycle.
    pub status: PaymentStatus,
    /// The capture mode it was created with.
    pub capture: CaptureMode,
    /// Why the last attempt failed, when it did.
    pub failure: Option<Failure>,
    /// The customer, when given.
    pub customer: Option<CustomerRef>,
    /// The metadata given at creation.
    pub metadata: BTreeMap<String, String>,
    /// The description given at creation.
    pub description: Option<String>,
    /// When the provider created it.
    pub created_at: DateTime<Utc>,
}

impl Payment {
    /// A new payment record, with nothing captured or refunded; for adapters.
    pub fn new(
        id: PaymentId,
        request: &CreatePayment,
        status: PaymentStatus,
        created_at: DateTime<Utc>,
    ) -> Self {
        let zero = Money::zero(request.amount.currency());
        Self {
            id,
            amount: request.amount,
            amount_captured: zero,
            amount_refunded: zero,
            status,
            capture: request.capture,
            failure: None,
            customer: request.customer.clone(),
            metadata: request.metadata.clone(),
            description: request.description.clone(),
            created_at,
        }
    }

    /// A payment record as a provider reports it, with nothing captured, refunded or
    /// failed and no metadata yet (set the public fields next); for adapters.
    pub fn record(
        id: PaymentId,
        amount: Money,
        status: PaymentStatus,
        capture: CaptureMode,
        created_at: DateTime<Utc>,
    ) -> Self {
        let zero = Money::zero(amount.currency());
        Self {
            id,
            amount,
            amount_captured: zero,
            amount_refunded: zero,
            status,
            capture,
            failure: None,
            customer: None,
            metadata: BTreeMap::new(),
            description: None,
            created_at,
        }
    }

    /// The order this payment pays for (metadata [`ORDER_REFERENCE_KEY`]).
    pub fn order_reference(&self) -> Option<&str> {
        self.metadata.get(ORDER_REFERENCE_KEY).map(String::as_str)
    }

    /// What can still be refunded: captured minus refunded.
    pub fn refundable(&self) -> Money {
        Money::new(
            self.amount_captured.minor() - self.amount_refunded.minor(),
            self.amount.currency(),
        )
    }
}

/// Why a refund is made (the reasons Stripe accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// The customer was charged twice.
    Duplicate,
    /// The payment was fraudulent.
    Fraudulent,
    /// The customer asked for it.
    RequestedByCustomer,
}

impl RefundReason {
    /// The provider's name (`duplicate`, `fraudulent`, `requested_by_customer`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::Fraudulent => "fraudulent",
            Self::RequestedByCustomer => "requested_by_customer",
        }
    }
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateRefund {
    /// The payment to refund.
    pub payment_id: PaymentId,
    /// How much; `None` refunds everything still refundable.
    pub amount: Option<Money>,
    /// Why.
    pub reason: Option<RefundReason>,
    /// Free-form key-values kept with the refund.
    pub metadata: BTreeMap<String, String>,
    /// Makes the refund safe to retry. REQUIRED, one per refund: two partial refunds
    /// need two keys.
    pub idempotency_key: IdempotencyKey,
}

impl CreateRefund {
    /// A full refund of what is still refundable.
    pub fn full(payment_id: PaymentId, idempotency_key: IdempotencyKey) -> Self {
        Self {
            payment_id,
            amount: None,
            reason: None,
            metadata: BTreeMap::new(),
            idempotency_key,
        }
    }

    /// A partial refund of `amount`.
    pub fn partial(payment_id: PaymentId, amount: Money, idempotency_key: IdempotencyKey) -> Self {
        Self {
            amount: Some(amount),
            ..Self::full(payment_id, idempotency_key)
        }
    }

    /// Sets the reason.
    pub fn with_reason(mut self, reason: RefundReason) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Checks a given amount is positive and the metadata is within limits.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if let Some(amount) = self.amount
            && amount.minor() <= 0
        {
            return Err(Error::invalid(format!(
                "refund amount must be positive, got {amount}"
            )));
        }
        validate_metadata(&self.metadata)
    }
}

/// A refund of (part of) a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refund {
    /// The provider's id.
    pub id: RefundId,
    /// The payment refunded.
    pub payment_id: PaymentId,
    /// How much.
    pub amount: Money,
    /// Where the refund is.
    pub status: RefundStatus,
    /// Why, when given.
    pub reason: Option<RefundReason>,
    /// The metadata given.
    pub metadata: BTreeMap<String, String>,
    /// When the provider created it.
    pub created_at: DateTime<Utc>,
}

impl Refund {
    /// A refund record as a provider reports it, without reason or metadata (set the
    /// public fields next); for adapters.
    pub fn record(
        id: RefundId,
        payment_id: PaymentId,
        amount: Money,
        status: RefundStatus,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            payment_id,
            amount,
            status,
            reason: None,
            metadata: BTreeMap::new(),
            created_at,
        }
    }

    /// A refund record for `request`; for adapters.
    pub fn new(
        id: RefundId,
        request: &CreateRefund,
        amount: Money,
        status: RefundStatus,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            payment_id: request.payment_id.clone(),
            amount,
            status,
            reason: request.reason,
            metadata: request.metadata.clone(),
            created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_refused_as_tokens() {
        for pan in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "5555-5555-5555-4444",
            "378282246310005",
            "6011111111111117",
        ] {
            let error = PaymentToken::new(pan).unwrap_err();
            assert!(matches!(error, Error::Invalid(_)), "{pan}");
            assert!(error.to_string().contains("card number"), "{error}");
            assert!(!error.to_string().contains(pan), "echoed: {error}");
        }
        // Not Luhn-valid, or not 12 to 19 digits: fine (and a provider id anyway).
        assert!(PaymentToken::new("4242424242424241").is_ok());
        assert!(PaymentToken::new("12345").is_ok());
        assert!(PaymentToken::new("tok_visa").is_ok());
        assert!(PaymentToken::new("pm_card_visa").is_ok());
        assert!(PaymentToken::new("").is_err());
        assert!(PaymentToken::new("tok visa").is_err());
    }

    #[test]
    fn debug_of_a_token_shows_only_its_prefix() {
        let token = PaymentToken::new("pm_1Abcdefgh").unwrap();
        assert_eq!(format!("{token:?}"), "PaymentToken(pm_1…)");
    }

    #[test]
    fn idempotency_keys_are_validated() {
        assert!(IdempotencyKey::new("order-42:create").is_ok());
        assert!(IdempotencyKey::new("").is_err());
        assert!(IdempotencyKey::new("a b").is_err());
        assert!(IdempotencyKey::new("x".repeat(256)).is_err());
        let key = IdempotencyKey::new("order-42").unwrap();
        assert_eq!(
            key.with_suffix("capture").unwrap().as_str(),
            "order-42:capture"
        );
        assert_ne!(IdempotencyKey::generate(), IdempotencyKey::generate());
        let parsed: IdempotencyKey = serde_json_like_parse("\"k-1\"");
        assert_eq!(parsed.as_str(), "k-1");
    }

    fn serde_json_like_parse(text: &str) -> IdempotencyKey {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn metadata_limits() {
        let mut metadata = BTreeMap::new();
        metadata.insert("order_id".to_owned(), "42".to_owned());
        assert!(validate_metadata(&metadata).is_ok());
        metadata.insert("k".repeat(41), "v".to_owned());
        assert!(validate_metadata(&metadata).is_err());
        let mut metadata = BTreeMap::new();
        metadata.insert("card".to_owned(), "4242424242424242".to_owned());
        assert!(validate_metadata(&metadata).is_err());
        let many: BTreeMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        assert!(validate_metadata(&many).is_err());
    }
}
