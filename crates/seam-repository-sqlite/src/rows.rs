//! Rows back into domain values, and the text forms SQLite stores ids and times in.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, SubsecRound, Utc};
use seam_domain::{
    Currency, EmailAddress, Money, Order, OrderId, OrderLine, OrderStatus, Quantity, Sku, User,
    UserId,
};
use seam_repository::{OutboxMessage, OutboxRecord, Product, Result};
use seam_sql::sqlx::sqlite::{SqliteConnection, SqliteRow};
use seam_sql::sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use crate::error::{corrupt, db};

/// The columns of a user, in the order [`user_from_row`] reads them.
pub(crate) const USER_COLUMNS: &str = "id, email, name, created_at, updated_at, version";

/// `SELECT` of an order's own columns; append a `WHERE`.
pub(crate) const ORDER_COLUMNS: &str = "SELECT id, customer_id, status, currency, total_minor, \
     rejection_reason, created_at, updated_at, version FROM orders";

/// The columns of an outbox row, in the order [`outbox_from_row`] reads them.
pub(crate) const OUTBOX_COLUMNS: &str = "id, routing_key, message_type, schema_version, \
     payload, correlation_id, causation_id, traceparent, occurred_at, created_at, attempts, \
     last_error";

/// A time as stored: RFC 3339 in UTC with exactly six fractional digits, so that stored
/// times compare correctly as text.
pub(crate) fn time_text(time: DateTime<Utc>) -> String {
    time.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Now, at the stored precision, and as stored.
pub(crate) fn now() -> (DateTime<Utc>, String) {
    let now = Utc::now().trunc_subsecs(6);
    (now, time_text(now))
}

/// An id as stored: hyphenated lower-case text.
pub(crate) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn text(row: &SqliteRow, column: &str) -> Result<String> {
    row.try_get(column).map_err(db)
}

fn optional_text(row: &SqliteRow, column: &str) -> Result<Option<String>> {
    row.try_get(column).map_err(db)
}

fn integer(row: &SqliteRow, column: &str) -> Result<i64> {
    row.try_get(column).map_err(db)
}

fn uuid(row: &SqliteRow, column: &str) -> Result<Uuid> {
    let value = text(row, column)?;
    Uuid::parse_str(&value).map_err(|error| corrupt(column, error))
}

fn optional_uuid(row: &SqliteRow, column: &str) -> Result<Option<Uuid>> {
    optional_text(row, column)?
        .map(|value| Uuid::parse_str(&value).map_err(|error| corrupt(column, error)))
        .transpose()
}

fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>> {
    let value = text(row, column)?;
    DateTime::parse_from_rfc3339(&value)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| corrupt(column, error))
}

fn version(row: &SqliteRow) -> Result<i64> {
    integer(row, "version")
}

pub(crate) fn user_from_row(row: &SqliteRow) -> Result<User> {
    Ok(User {
        id: UserId::from_uuid(uuid(row, "id")?),
        email: EmailAddress::parse(&text(row, "email")?)
            .map_err(|error| corrupt("e-mail address", error))?,
        name: text(row, "name")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: version(row)?,
    })
}

fn currency(code: &str) -> Result<Currency> {
    Currency::parse(code.trim()).map_err(|error| corrupt("currency", error))
}

fn sku(text: &str) -> Result<Sku> {
    Sku::parse(text).map_err(|error| corrupt("SKU", error))
}

pub(crate) fn product_from_row(row: &SqliteRow) -> Result<Product> {
    Ok(Product {
        sku: sku(&text(row, "sku")?)?,
        name: text(row, "name")?,
        unit_price: Money::new(
            integer(row, "price_minor")?,
            currency(&text(row, "currency")?)?,
        ),
        on_hand: integer(row, "on_hand")?,
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

/// Runs an order query (built on [`ORDER_COLUMNS`]) and attaches each order's lines.
pub(crate) async fn fetch_orders(
    conn: &mut SqliteConnection,
    mut query: QueryBuilder<Sqlite>,
) -> Result<Vec<Order>> {
    let rows = query.build().fetch_all(&mut *conn).await.map_err(db)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = rows
        .iter()
        .map(|row| text(row, "id"))
        .collect::<Result<_>>()?;
    let mut lines_query: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT order_id, sku, quantity, unit_price_minor, currency FROM order_lines \
         WHERE order_id IN (",
    );
    let mut separated = lines_query.separated(", ");
    for id in &ids {
        separated.push_bind(id.clone());
    }
    lines_query.push(") ORDER BY order_id, line_no");
    let line_rows = lines_query
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut lines: HashMap<String, Vec<OrderLine>> = HashMap::new();
    for row in &line_rows {
        let units = integer(row, "quantity")?;
        let quantity = u32::try_from(units)
            .ok()
            .and_then(|units| Quantity::new(units).ok())
            .ok_or_else(|| corrupt("quantity", units))?;
        lines
            .entry(text(row, "order_id")?)
            .or_default()
            .push(OrderLine {
                sku: sku(&text(row, "sku")?)?,
                quantity,
                unit_price: Money::new(
                    integer(row, "unit_price_minor")?,
                    currency(&text(row, "currency")?)?,
                ),
            });
    }
    rows.iter()
        .map(|row| {
            let id = text(row, "id")?;
            Ok(Order {
                id: OrderId::from_uuid(Uuid::parse_str(&id).map_err(|error| corrupt("id", error))?),
                customer_id: UserId::from_uuid(uuid(row, "customer_id")?),
                lines: lines.remove(&id).unwrap_or_default(),
                status: text(row, "status")?
                    .parse::<OrderStatus>()
                    .map_err(|error| corrupt("order status", error))?,
                total: Money::new(
                    integer(row, "total_minor")?,
                    currency(&text(row, "currency")?)?,
                ),
                rejection_reason: optional_text(row, "rejection_reason")?,
                created_at: time(row, "created_at")?,
                updated_at: time(row, "updated_at")?,
                version: version(row)?,
            })
        })
        .collect()
}

pub(crate) fn outbox_from_row(row: &SqliteRow) -> Result<OutboxRecord> {
    let payload = text(row, "payload")?;
    Ok(OutboxRecord {
        message: OutboxMessage {
            id: uuid(row, "id")?,
            routing_key: text(row, "routing_key")?,
            message_type: text(row, "message_type")?,
            schema_version: u32::try_from(integer(row, "schema_version")?)
                .map_err(|error| corrupt("schema version", error))?,
            payload: serde_json::from_str(&payload)
                .map_err(|error| corrupt("outbox payload", error))?,
            correlation_id: uuid(row, "correlation_id")?,
            causation_id: optional_uuid(row, "causation_id")?,
            traceparent: optional_text(row, "traceparent")?,
            occurred_at: time(row, "occurred_at")?,
        },
        attempts: u32::try_from(integer(row, "attempts")?)
            .map_err(|error| corrupt("attempts", error))?,
        last_error: optional_text(row, "last_error")?,
        created_at: time(row, "created_at")?,
    })
}
