//! The requests and records the repository traits exchange.

use chrono::{DateTime, Utc};
use seam_domain::{EmailAddress, Money, NewUser, Quantity, Sku};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page, in the order asked for.
    pub items: Vec<T>,
    /// How many items match, over all pages.
    pub total: u64,
    /// The page size asked for.
    pub limit: u32,
    /// How many matching items come before this page.
    pub offset: u64,
}

impl<T> Page<T> {
    /// Whether there are items after this page.
    pub fn has_more(&self) -> bool {
        self.offset + (self.items.len() as u64) < self.total
    }
}

/// The largest page size a listing accepts.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Checks a page size: 1 to [`MAX_PAGE_SIZE`].
///
/// # Errors
///
/// [`Error::Invalid`] on field `limit`.
pub fn check_limit(limit: u32) -> Result<()> {
    if (1..=MAX_PAGE_SIZE).contains(&limit) {
        Ok(())
    } else {
        Err(Error::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}, got {limit}"),
        ))
    }
}

/// Changes to a user; fields left `None` keep their value.
///
/// ```
/// use seam_repository::UserUpdate;
///
/// let update = UserUpdate::new().with_name("  Ada King ").unwrap();
/// assert_eq!(update.name(), Some("Ada King"));
/// assert!(UserUpdate::new().with_name("").is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserUpdate {
    name: Option<String>,
    email: Option<EmailAddress>,
}

impl UserUpdate {
    /// No change.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also renames the user; the name is validated and trimmed as for [`NewUser`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on field `name`.
    pub fn with_name(mut self, name: &str) -> Result<Self> {
        // The rules live in the domain; NewUser applies them (the address is irrelevant).
        let placeholder = EmailAddress::parse("name-check@example.com")?;
        let checked = NewUser::new(placeholder, name)?;
        self.name = Some(checked.name().to_owned());
        Ok(self)
    }

    /// Also changes the e-mail address.
    pub fn with_email(mut self, email: EmailAddress) -> Self {
        self.email = Some(email);
        self
    }

    /// The new name, if it changes.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The new address, if it changes.
    pub fn email(&self) -> Option<&EmailAddress> {
        self.email.as_ref()
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.email.is_none()
    }
}

/// What users are listed by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserSort {
    /// Creation time (the default).
    #[default]
    CreatedAt,
    /// Name, compared byte by byte (so `Zoe` comes before `ada`).
    Name,
    /// E-mail address, compared byte by byte.
    Email,
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortDirection {
    /// Smallest first (the default).
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// Which users to list, in which order, and which page.
///
/// Filters match a substring, case-insensitively (ASCII case at least), literally: `%`,
/// `_` and quotes have no special meaning. Ties in the sort key are broken by id, so
/// pages never overlap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserQuery {
    /// Only users whose address contains this.
    pub email_contains: Option<String>,
    /// Only users whose name contains this.
    pub name_contains: Option<String>,
    /// The sort key.
    pub sort: UserSort,
    /// The sort direction.
    pub direction: SortDirection,
    /// The page size: 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// How many matching users to skip.
    pub offset: u64,
}

impl Default for UserQuery {
    fn default() -> Self {
        Self {
            email_contains: None,
            name_contains: None,
            sort: UserSort::CreatedAt,
            direction: SortDirection::Asc,
            limit: 20,
            offset: 0,
        }
    }
}

impl UserQuery {
    /// Checks the limit and the offset.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] on field `limit` or `offset`.
    pub fn validate(&self) -> Result<()> {
        check_limit(self.limit)?;
        check_offset(self.offset)
    }
}

/// Checks an offset fits the databases' signed 64-bit integers.
///
/// # Errors
///
/// [`Error::Invalid`] on field `offset`.
pub fn check_offset(offset: u64) -> Result<()> {
    if i64::try_from(offset).is_ok() {
        Ok(())
    } else {
        Err(Error::invalid("offset", "is too large"))
    }
}

/// A product of the catalogue with its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its SKU.
    pub sku: Sku,
    /// Its display name.
    pub name: String,
    /// The price of one unit.
    pub unit_price: Money,
    /// Units in stock, never below zero.
    pub on_hand: i64,
}

/// The outcome of [`crate::Transaction::reserve_stock`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reservation {
    /// Every line was reserved.
    Reserved,
    /// This product has too little stock; nothing was reserved.
    Insufficient {
        /// The first product short of stock (in SKU order).
        sku: Sku,
        /// How many units were asked for.
        requested: Quantity,
        /// How many are in stock (0 for an unknown SKU).
        available: i64,
    },
}

impl Reservation {
    /// Whether everything was reserved.
    pub fn is_reserved(&self) -> bool {
        matches!(self, Self::Reserved)
    }
}

/// A message to publish, written to the outbox in the transaction of the change it
/// announces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The message id (consumers deduplicate on it).
    pub id: Uuid,
    /// Where the message goes (`orders.placed`).
    pub routing_key: String,
    /// What the payload is (`OrderPlaced`).
    pub message_type: String,
    /// The version of the payload's schema, 1 or more.
    pub schema_version: u32,
    /// The payload.
    pub payload: serde_json::Value,
    /// The id shared by every message of one business flow.
    pub correlation_id: Uuid,
    /// The id of the message that caused this one, if any.
    pub causation_id: Option<Uuid>,
    /// The W3C `traceparent` of the trace that produced it, if any.
    pub traceparent: Option<String>,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
}

impl OutboxMessage {
    /// A message with a new id, schema version 1, correlated to itself, no trace context,
    /// occurring now.
    pub fn new(
        routing_key: impl Into<String>,
        message_type: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        let id = Uuid::now_v7();
        Self {
            id,
            routing_key: routing_key.into(),
            message_type: message_type.into(),
            schema_version: 1,
            payload,
            correlation_id: id,
            causation_id: None,
            traceparent: None,
            occurred_at: Utc::now(),
        }
    }

    /// Checks what the schema requires: non-blank routing key and type, schema version 1+.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.routing_key.trim().is_empty() {
            return Err(Error::invalid("routing_key", "must not be blank"));
        }
        if self.message_type.trim().is_empty() {
            return Err(Error::invalid("message_type", "must not be blank"));
        }
        if self.schema_version == 0 || i32::try_from(self.schema_version).is_err() {
            return Err(Error::invalid(
                "schema_version",
                format!("must be between 1 and {}", i32::MAX),
            ));
        }
        Ok(())
    }
}

/// An outbox row as the relay sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    /// The message.
    pub message: OutboxMessage,
    /// Failed publishing attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// The first response given to a request with an idempotency key, replayed for retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// A hash of the request, to refuse a key reused with another request.
    pub request_hash: String,
    /// The HTTP status code, 100 to 599.
    pub status_code: u16,
    /// The response body.
    pub body: serde_json::Value,
}

/// Checks the scope and key of an idempotency record.
///
/// # Errors
///
/// [`Error::Invalid`] for a blank scope, or a key empty or longer than 255 bytes.
pub fn check_idempotency_key(scope: &str, key: &str) -> Result<()> {
    if scope.trim().is_empty() {
        return Err(Error::invalid("scope", "must not be blank"));
    }
    if key.is_empty() || key.len() > 255 {
        return Err(Error::invalid(
            "idempotency_key",
            "must be 1 to 255 bytes long",
        ));
    }
    Ok(())
}

/// Checks a stored response's status code.
///
/// # Errors
///
/// [`Error::Invalid`] on field `status_code` outside 100 to 599.
pub fn check_stored_response(response: &StoredResponse) -> Result<()> {
    if (100..=599).contains(&response.status_code) {
        Ok(())
    } else {
        Err(Error::invalid(
            "status_code",
            format!("must be between 100 and 599, got {}", response.status_code),
        ))
    }
}

/// Checks an inbox consumer name.
///
/// # Errors
///
/// [`Error::Invalid`] on field `consumer` when blank.
pub fn check_consumer(consumer: &str) -> Result<()> {
    if consumer.trim().is_empty() {
        Err(Error::invalid("consumer", "must not be blank"))
    } else {
        Ok(())
    }
}

/// Checks a stock count: 0 to `i32::MAX` (the schema's integer).
///
/// # Errors
///
/// [`Error::Invalid`] on field `on_hand`.
pub fn check_stock(on_hand: i64) -> Result<()> {
    if (0..=i64::from(i32::MAX)).contains(&on_hand) {
        Ok(())
    } else {
        Err(Error::invalid(
            "on_hand",
            format!("must be between 0 and {}, got {on_hand}", i32::MAX),
        ))
    }
}

/// Checks what the schema requires of a product: a name, a price and stock not negative.
///
/// # Errors
///
/// [`Error::Invalid`] naming the field.
pub fn check_product(product: &Product) -> Result<()> {
    if product.name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be blank"));
    }
    if product.unit_price.is_negative() {
        return Err(Error::invalid("unit_price", "must not be negative"));
    }
    check_stock(product.on_hand)
}
