//! Rows back into domain values, for both dialects: each dialect says how to read one
//! column ([`Columns`]), the mapping from columns to users, products, orders and outbox
//! records is written once here.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use seam_domain::{
    Currency, EmailAddress, Money, Order, OrderId, OrderLine, OrderStatus, Quantity, Sku, User,
    UserId,
};
use seam_repository::{Error, OutboxMessage, OutboxRecord, Product, Result, StoredResponse};
use uuid::Uuid;

/// The columns of a user, in the order [`user_from_row`] reads them.
pub(crate) const USER_COLUMNS: &str = "id, email, name, created_at, updated_at, version";

/// `SELECT` of an order's own columns; append a `WHERE`.
pub(crate) const ORDER_COLUMNS: &str = "SELECT id, customer_id, status, currency, total_minor, \
     rejection_reason, created_at, updated_at, version FROM orders";

/// `SELECT` of order lines; append the dialect's `order_id IN …` and
/// [`ORDER_LINES_ORDER`].
pub(crate) const ORDER_LINE_COLUMNS: &str =
    "SELECT order_id, sku, quantity, unit_price_minor, currency FROM order_lines WHERE ";

/// The order of order lines that [`assemble_orders`] keeps.
pub(crate) const ORDER_LINES_ORDER: &str = " ORDER BY order_id, line_no";

/// How one dialect reads a column of its rows. PostgreSQL has native UUIDs, times and
/// 32-bit integers; SQLite stores ids and times as text and every integer as 64 bits.
pub(crate) trait Columns {
    /// The adapter's name, in the errors of a row that cannot be read.
    const ADAPTER: &'static str;

    /// A text column.
    fn text(&self, column: &str) -> Result<String>;
    /// A nullable text column.
    fn optional_text(&self, column: &str) -> Result<Option<String>>;
    /// A `bigint` column (and a count or sum cast to it).
    fn big(&self, column: &str) -> Result<i64>;
    /// An `integer` column: 32 bits on PostgreSQL, widened.
    fn int(&self, column: &str) -> Result<i64>;
    /// A UUID column.
    fn uuid(&self, column: &str) -> Result<Uuid>;
    /// A nullable UUID column.
    fn optional_uuid(&self, column: &str) -> Result<Option<Uuid>>;
    /// A timestamp column, in UTC.
    fn time(&self, column: &str) -> Result<DateTime<Utc>>;

    /// A stored value that is not a valid domain value.
    fn corrupt(what: &str, detail: impl std::fmt::Display) -> Error {
        crate::error::corrupt(Self::ADAPTER, what, detail)
    }
}

fn currency<R: Columns>(row: &R, column: &str) -> Result<Currency> {
    Currency::parse(row.text(column)?.trim()).map_err(|error| R::corrupt("currency", error))
}

fn sku<R: Columns>(row: &R) -> Result<Sku> {
    Sku::parse(&row.text("sku")?).map_err(|error| R::corrupt("SKU", error))
}

fn count<R: Columns>(row: &R, column: &str, what: &str) -> Result<u32> {
    u32::try_from(row.int(column)?).map_err(|error| R::corrupt(what, error))
}

pub(crate) fn user_from_row<R: Columns>(row: &R) -> Result<User> {
    Ok(User {
        id: UserId::from_uuid(row.uuid("id")?),
        email: EmailAddress::parse(&row.text("email")?)
            .map_err(|error| R::corrupt("e-mail address", error))?,
        name: row.text("name")?,
        created_at: row.time("created_at")?,
        updated_at: row.time("updated_at")?,
        version: row.int("version")?,
    })
}

pub(crate) fn product_from_row<R: Columns>(row: &R) -> Result<Product> {
    Ok(Product {
        sku: sku(row)?,
        name: row.text("name")?,
        unit_price: Money::new(row.big("price_minor")?, currency(row, "currency")?),
        on_hand: row.big("on_hand")?,
    })
}

/// The products found, in the order their SKUs were asked for, each once.
pub(crate) fn in_requested_order(skus: &[Sku], found: Vec<Product>) -> Vec<Product> {
    let mut by_sku: HashMap<Sku, Product> = found
        .into_iter()
        .map(|product| (product.sku.clone(), product))
        .collect();
    let mut seen = HashSet::new();
    skus.iter()
        .filter(|sku| seen.insert(*sku))
        .filter_map(|sku| by_sku.remove(sku))
        .collect()
}

/// Orders from their rows (selected with [`ORDER_COLUMNS`]) and the rows of their lines
/// (selected with [`ORDER_LINE_COLUMNS`], in [`ORDER_LINES_ORDER`]).
pub(crate) fn assemble_orders<R: Columns>(rows: &[R], line_rows: &[R]) -> Result<Vec<Order>> {
    let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for row in line_rows {
        let units = row.int("quantity")?;
        let quantity = u32::try_from(units)
            .ok()
            .and_then(|units| Quantity::new(units).ok())
            .ok_or_else(|| R::corrupt("quantity", units))?;
        lines
            .entry(row.uuid("order_id")?)
            .or_default()
            .push(OrderLine {
                sku: sku(row)?,
                quantity,
                unit_price: Money::new(row.big("unit_price_minor")?, currency(row, "currency")?),
            });
    }
    rows.iter()
        .map(|row| {
            let id = row.uuid("id")?;
            Ok(Order {
                id: OrderId::from_uuid(id),
                customer_id: UserId::from_uuid(row.uuid("customer_id")?),
                lines: lines.remove(&id).unwrap_or_default(),
                status: row
                    .text("status")?
                    .parse::<OrderStatus>()
                    .map_err(|error| R::corrupt("order status", error))?,
                total: Money::new(row.big("total_minor")?, currency(row, "currency")?),
                rejection_reason: row.optional_text("rejection_reason")?,
                created_at: row.time("created_at")?,
                updated_at: row.time("updated_at")?,
                version: row.int("version")?,
            })
        })
        .collect()
}

/// An outbox record from a row selected with the dialect's outbox columns (the payload
/// as JSON text).
pub(crate) fn outbox_from_row<R: Columns>(row: &R) -> Result<OutboxRecord> {
    let payload = row.text("payload")?;
    Ok(OutboxRecord {
        message: OutboxMessage {
            id: row.uuid("id")?,
            routing_key: row.text("routing_key")?,
            message_type: row.text("message_type")?,
            schema_version: count(row, "schema_version", "schema version")?,
            payload: serde_json::from_str(&payload)
                .map_err(|error| R::corrupt("outbox payload", error))?,
            correlation_id: row.uuid("correlation_id")?,
            causation_id: row.optional_uuid("causation_id")?,
            traceparent: row.optional_text("traceparent")?,
            occurred_at: row.time("occurred_at")?,
        },
        attempts: count(row, "attempts", "attempts")?,
        last_error: row.optional_text("last_error")?,
        created_at: row.time("created_at")?,
    })
}

/// A stored idempotent response from its columns (the body as JSON text).
pub(crate) fn stored_response(
    adapter: &'static str,
    (request_hash, status_code, body): (String, i64, String),
) -> Result<StoredResponse> {
    Ok(StoredResponse {
        request_hash,
        status_code: u16::try_from(status_code)
            .map_err(|error| crate::error::corrupt(adapter, "status code", error))?,
        body: serde_json::from_str(&body)
            .map_err(|error| crate::error::corrupt(adapter, "response", error))?,
    })
}
