//! Rows back into domain values.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use seam_domain::{
    Currency, EmailAddress, Money, Order, OrderId, OrderLine, OrderStatus, Quantity, Sku, User,
    UserId,
};
use seam_repository::{OutboxMessage, OutboxRecord, Product, Result};
use seam_sql::sqlx::postgres::{PgConnection, PgRow};
use seam_sql::sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::error::{corrupt, db};

/// The columns of a user, in the order [`user_from_row`] reads them.
pub(crate) const USER_COLUMNS: &str = "id, email, name, created_at, updated_at, version";

/// `SELECT` of an order's own columns; append a `WHERE`.
pub(crate) const ORDER_COLUMNS: &str = "SELECT id, customer_id, status, currency, total_minor, \
     rejection_reason, created_at, updated_at, version FROM orders";

/// The columns of an outbox row, in the order [`outbox_from_row`] reads them.
pub(crate) const OUTBOX_COLUMNS: &str = "id, routing_key, message_type, schema_version, \
     payload::text AS payload, correlation_id, causation_id, traceparent, occurred_at, \
     created_at, attempts, last_error";

fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: seam_sql::sqlx::Decode<'r, Postgres> + seam_sql::sqlx::Type<Postgres>,
{
    row.try_get(column).map_err(db)
}

pub(crate) fn user_from_row(row: &PgRow) -> Result<User> {
    let email: String = get(row, "email")?;
    Ok(User {
        id: UserId::from_uuid(get(row, "id")?),
        email: EmailAddress::parse(&email).map_err(|error| corrupt("e-mail address", error))?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        version: i64::from(get::<i32>(row, "version")?),
    })
}

fn currency(code: &str) -> Result<Currency> {
    Currency::parse(code.trim()).map_err(|error| corrupt("currency", error))
}

fn sku(text: &str) -> Result<Sku> {
    Sku::parse(text).map_err(|error| corrupt("SKU", error))
}

pub(crate) fn product_from_row(row: &PgRow) -> Result<Product> {
    let code: String = get(row, "currency")?;
    let sku_text: String = get(row, "sku")?;
    Ok(Product {
        sku: sku(&sku_text)?,
        name: get(row, "name")?,
        unit_price: Money::new(get(row, "price_minor")?, currency(&code)?),
        on_hand: get(row, "on_hand")?,
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
    conn: &mut PgConnection,
    mut query: QueryBuilder<Postgres>,
) -> Result<Vec<Order>> {
    let rows = query.build().fetch_all(&mut *conn).await.map_err(db)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|row| get::<Uuid>(row, "id"))
        .collect::<Result<_>>()?;
    let line_rows = seam_sql::sqlx::query(
        "SELECT order_id, sku, quantity, unit_price_minor, currency FROM order_lines \
         WHERE order_id = ANY($1) ORDER BY order_id, line_no",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    let mut lines: HashMap<Uuid, Vec<OrderLine>> = HashMap::new();
    for row in &line_rows {
        let code: String = get(row, "currency")?;
        let sku_text: String = get(row, "sku")?;
        let units: i32 = get(row, "quantity")?;
        let quantity = u32::try_from(units)
            .ok()
            .and_then(|units| Quantity::new(units).ok())
            .ok_or_else(|| corrupt("quantity", units))?;
        lines
            .entry(get(row, "order_id")?)
            .or_default()
            .push(OrderLine {
                sku: sku(&sku_text)?,
                quantity,
                unit_price: Money::new(get(row, "unit_price_minor")?, currency(&code)?),
            });
    }
    rows.iter()
        .map(|row| {
            let id: Uuid = get(row, "id")?;
            let code: String = get(row, "currency")?;
            let status: String = get(row, "status")?;
            Ok(Order {
                id: OrderId::from_uuid(id),
                customer_id: UserId::from_uuid(get(row, "customer_id")?),
                lines: lines.remove(&id).unwrap_or_default(),
                status: status
                    .parse::<OrderStatus>()
                    .map_err(|error| corrupt("order status", error))?,
                total: Money::new(get(row, "total_minor")?, currency(&code)?),
                rejection_reason: get(row, "rejection_reason")?,
                created_at: get(row, "created_at")?,
                updated_at: get(row, "updated_at")?,
                version: i64::from(get::<i32>(row, "version")?),
            })
        })
        .collect()
}

pub(crate) fn outbox_from_row(row: &PgRow) -> Result<OutboxRecord> {
    let payload: String = get(row, "payload")?;
    let schema_version: i32 = get(row, "schema_version")?;
    let attempts: i32 = get(row, "attempts")?;
    let created_at: DateTime<Utc> = get(row, "created_at")?;
    Ok(OutboxRecord {
        message: OutboxMessage {
            id: get(row, "id")?,
            routing_key: get(row, "routing_key")?,
            message_type: get(row, "message_type")?,
            schema_version: u32::try_from(schema_version)
                .map_err(|error| corrupt("schema version", error))?,
            payload: serde_json::from_str(&payload)
                .map_err(|error| corrupt("outbox payload", error))?,
            correlation_id: get(row, "correlation_id")?,
            causation_id: get(row, "causation_id")?,
            traceparent: get(row, "traceparent")?,
            occurred_at: get(row, "occurred_at")?,
        },
        attempts: u32::try_from(attempts).map_err(|error| corrupt("attempts", error))?,
        last_error: get(row, "last_error")?,
        created_at,
    })
}
