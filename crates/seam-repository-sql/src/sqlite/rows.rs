//! SQLite rows, and the text forms SQLite stores ids and times in.

use chrono::{DateTime, SubsecRound, Utc};
use seam_repository::Result;
use seam_sql::sqlx::Row;
use seam_sql::sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use super::{ADAPTER, db};
use crate::rows::Columns;

/// The columns of an outbox row, in the order `outbox_from_row` reads them.
pub(super) const OUTBOX_COLUMNS: &str = "id, routing_key, message_type, schema_version, \
     payload, correlation_id, causation_id, traceparent, occurred_at, created_at, attempts, \
     last_error";

/// A time as stored: RFC 3339 in UTC with exactly six fractional digits, so that stored
/// times compare correctly as text.
pub(super) fn time_text(time: DateTime<Utc>) -> String {
    time.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// Now, at the stored precision, and as stored.
pub(super) fn now() -> (DateTime<Utc>, String) {
    let now = Utc::now().trunc_subsecs(6);
    (now, time_text(now))
}

/// An id as stored: hyphenated lower-case text.
pub(super) fn id_text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn parse_uuid(column: &str, value: &str) -> Result<Uuid> {
    Uuid::parse_str(value).map_err(|error| SqliteRow::corrupt(column, error))
}

impl Columns for SqliteRow {
    const ADAPTER: &'static str = ADAPTER;

    fn text(&self, column: &str) -> Result<String> {
        self.try_get(column).map_err(db)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>> {
        self.try_get(column).map_err(db)
    }

    fn big(&self, column: &str) -> Result<i64> {
        self.try_get(column).map_err(db)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.big(column)
    }

    fn uuid(&self, column: &str) -> Result<Uuid> {
        parse_uuid(column, &self.text(column)?)
    }

    fn optional_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.optional_text(column)?
            .map(|value| parse_uuid(column, &value))
            .transpose()
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>> {
        let value = self.text(column)?;
        DateTime::parse_from_rfc3339(&value)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|error| Self::corrupt(column, error))
    }
}
