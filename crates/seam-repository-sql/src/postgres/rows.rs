//! PostgreSQL rows: native UUIDs, timestamps and 32-bit integers.

use chrono::{DateTime, Utc};
use seam_repository::Result;
use seam_sql::sqlx::postgres::PgRow;
use seam_sql::sqlx::{Decode, Postgres, Row, Type};
use uuid::Uuid;

use super::{ADAPTER, db};
use crate::rows::Columns;

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
