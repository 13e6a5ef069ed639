//! PostgreSQL rows: native UUIDs, timestamps and 32-bit integers.

use chrono::{DateTime, Utc};
use seam_domain::Order;
use seam_repository::Result;
use seam_sql::sqlx::postgres::{PgConnection, PgRow};
use seam_sql::sqlx::{Decode, Postgres, QueryBuilder, Row, Type};
use uuid::Uuid;

use super::{ADAPTER, db};
use crate::rows::{Columns, ORDER_LINE_COLUMNS, ORDER_LINES_ORDER, assemble_orders};

/// The columns of an outbox row, in the order `outbox_from_row` reads them.
pub(super) const OUTBOX_COLUMNS: &str = "id, routing_key, message_type, schema_version, \
     payload::text AS payload, correlation_id, causation_id, traceparent, occurred_at, \
     created_at, attempts, last_error";

fn get<'r, T>(row: &'r PgRow, column: &str) -> Result<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(db)
}

impl Columns for PgRow {
    const ADAPTER: &'static str = ADAPTER;

    fn text(&self, column: &str) -> Result<String> {
        get(self, column)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>> {
        get(self, column)
    }

    fn big(&self, column: &str) -> Result<i64> {
        get(self, column)
    }

    fn int(&self, column: &str) -> Result<i64> {
        get::<i32>(self, column).map(i64::from)
    }

    fn uuid(&self, column: &str) -> Result<Uuid> {
        get(self, column)
    }

    fn optional_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        get(self, column)
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        get(self, column)
    }
}

/// Runs an order query (built on `ORDER_COLUMNS`) and attaches each order's lines.
pub(super) async fn fetch_orders(
    conn: &mut PgConnection,
    mut query: QueryBuilder<Postgres>,
) -> Result<Vec<Order>> {
    let rows = query.build().fetch_all(&mut *conn).await.map_err(db)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows
        .iter()
        .map(|row| row.uuid("id"))
        .collect::<Result<_>>()?;
    let mut lines: QueryBuilder<Postgres> = QueryBuilder::new(ORDER_LINE_COLUMNS);
    lines
        .push("order_id = ANY(")
        .push_bind(ids)
        .push(")")
        .push(ORDER_LINES_ORDER);
    let line_rows = lines.build().fetch_all(&mut *conn).await.map_err(db)?;
    assemble_orders(&rows, &line_rows)
}
