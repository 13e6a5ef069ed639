//! The e-mail port's [`SuppressionList`] and [`DeliveryStatusStore`] on the
//! `email_suppressions` and `email_delivery_events` tables of migration 0009, on
//! PostgreSQL and SQLite. Both writes are one idempotent statement
//! (`INSERT … ON CONFLICT DO NOTHING`), so concurrent workers applying the same event
//! agree.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use seam_core::ErrorKind;
use seam_domain::EmailAddress;
use seam_email::events::{check_event, status_from_events};
use seam_email::suppression::{check_limit, normalize_reason, suppression_key};
use seam_email::{
    DeliveryEvent, DeliveryEventKind, DeliveryStatus, DeliveryStatusStore, Error, MessageId,
    Result, Suppression, SuppressionList,
};
use seam_sql::sqlx::{self, Row};
use seam_sql::{Database, Pool, classify_sqlx_error};
use seam_telemetry::PortMetrics;

const SUPPRESS: &str = "INSERT INTO email_suppressions (address, reason, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (address) DO NOTHING";
const SELECT_SUPPRESSION: &str =
    "SELECT address, reason, created_at FROM email_suppressions WHERE address = $1";
const LIFT: &str = "DELETE FROM email_suppressions WHERE address = $1";
const LIST: &str = "SELECT address, reason, created_at FROM email_suppressions \
     ORDER BY created_at DESC, address LIMIT $1";
const RECORD: &str = "INSERT INTO email_delivery_events \
        (provider_event_id, message_id, recipient, kind, detail, occurred_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_event_id) DO NOTHING";
/// The events that can make a status, newest first. The status is the latest of them
/// (ties broken by kind), so the newest thousand always contain it.
const EVENTS_OF_MESSAGE: &str = "SELECT provider_event_id, recipient, kind, detail, occurred_at \
     FROM email_delivery_events \
     WHERE message_id = $1 AND kind NOT IN ('unsubscribed', 'other') \
     ORDER BY occurred_at DESC LIMIT 1000";

fn adapter_of(db: &Database) -> &'static str {
    match db.pool() {
        Pool::Postgres(_) => "postgres",
        _ => "sqlite",
    }
}

/// Driver errors become e-mail errors here: retryable kinds (a connection lost, a
/// pool closed or timed out, a serialization failure) are `Transient`, bad values are
/// `Invalid`, anything else `Permanent`.
fn db_error(adapter: &'static str, error: sqlx::Error) -> Error {
    let kind = classify_sqlx_error(&error);
    let message = format!("{adapter} ({kind:?})");
    match kind {
        kind if kind.is_retryable() => Error::transient_from(message, error),
        ErrorKind::Invalid => Error::invalid(format!("{message}: {error}")),
        _ => Error::permanent_from(message, error),
    }
}

fn unsupported() -> Error {
    Error::permanent("unsupported database backend for the e-mail event stores")
}

fn corrupt(column: &str, detail: impl std::fmt::Display) -> Error {
    Error::permanent(format!("{column} cannot be read: {detail}"))
}

fn sqlite_time(time: DateTime<Utc>) -> String {
    time.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

fn parse_time(column: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| corrupt(column, error))
}

/// Reads a column, as text on SQLite (times included) and natively on Postgres.
macro_rules! column {
    ($row:expr, $name:literal, $ty:ty) => {
        $row.try_get::<$ty, _>($name)
            .map_err(|error| corrupt(concat!("email table column ", $name), error))
    };
}

fn suppression_pg(row: &sqlx::postgres::PgRow) -> Result<Suppression> {
    Ok(Suppression {
        address: column!(row, "address", String)?,
        reason: column!(row, "reason", String)?,
        created_at: column!(row, "created_at", DateTime<Utc>)?,
    })
}

fn suppression_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Suppression> {
    Ok(Suppression {
        address: column!(row, "address", String)?,
        reason: column!(row, "reason", String)?,
        created_at: parse_time("created_at", &column!(row, "created_at", String)?)?,
    })
}

fn event_from(
    message_id: &MessageId,
    provider_event_id: String,
    recipient: &str,
    kind: &str,
    detail: Option<&str>,
    occurred_at: DateTime<Utc>,
) -> Result<DeliveryEvent> {
    Ok(DeliveryEvent {
        message_id: Some(message_id.clone()),
        recipient: EmailAddress::parse(recipient).map_err(|error| corrupt("recipient", error))?,
        kind: DeliveryEventKind::from_parts(kind, detail)
            .map_err(|error| corrupt("kind", error))?,
        occurred_at,
        provider_event_id,
    })
}

/// The suppression list over the project's database (either backend).
#[derive(Debug, Clone)]
pub struct SqlSuppressionList {
    db: Database,
    metrics: PortMetrics,
}

impl SqlSuppressionList {
    /// The list in `db` (migrated to 0009 or later).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            metrics: PortMetrics::new("email", adapter_of(db)),
        }
    }

    async fn fetch(&self, key: &str) -> Result<Option<Suppression>> {
        match self.db.pool() {
            Pool::Postgres(pool) => sqlx::query(SELECT_SUPPRESSION)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(|error| db_error("postgres", error))?
                .as_ref()
                .map(suppression_pg)
                .transpose(),
            Pool::Sqlite(pool) => sqlx::query(SELECT_SUPPRESSION)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(|error| db_error("sqlite", error))?
                .as_ref()
                .map(suppression_sqlite)
                .transpose(),
            _ => Err(unsupported()),
        }
    }
}

#[async_trait]
impl SuppressionList for SqlSuppressionList {
    async fn suppress(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Suppression> {
        self.metrics
            .call("suppressions.suppress", async {
                let entry = Suppression {
                    address: suppression_key(address),
                    reason: normalize_reason(reason),
                    created_at: at.trunc_subsecs(6),
                };
                match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(SUPPRESS)
                        .bind(&entry.address)
                        .bind(&entry.reason)
                        .bind(entry.created_at)
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("postgres", error))
                        .map(|_| ())?,
                    Pool::Sqlite(pool) => sqlx::query(SUPPRESS)
                        .bind(&entry.address)
                        .bind(&entry.reason)
                        .bind(sqlite_time(entry.created_at))
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("sqlite", error))
                        .map(|_| ())?,
                    _ => return Err(unsupported()),
                };
                // The row kept is the first one; it may have been lifted in between,
                // then the address was suppressed by this call as far as the caller saw.
                Ok(self.fetch(&entry.address).await?.unwrap_or(entry))
            })
            .await
    }

    async fn is_suppressed(&self, address: &EmailAddress) -> Result<Option<Suppression>> {
        self.metrics
            .call(
                "suppressions.is_suppressed",
                self.fetch(&suppression_key(address)),
            )
            .await
    }

    async fn lift(&self, address: &EmailAddress) -> Result<bool> {
        self.metrics
            .call("suppressions.lift", async {
                let key = suppression_key(address);
                let affected = match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(LIFT)
                        .bind(&key)
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("postgres", error))?
                        .rows_affected(),
                    Pool::Sqlite(pool) => sqlx::query(LIFT)
                        .bind(&key)
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("sqlite", error))?
                        .rows_affected(),
                    _ => return Err(unsupported()),
                };
                Ok(affected > 0)
            })
            .await
    }

    async fn list(&self, limit: usize) -> Result<Vec<Suppression>> {
        self.metrics
            .call("suppressions.list", async {
                check_limit(limit)?;
                let limit = i64::try_from(limit).unwrap_or(1000);
                match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(LIST)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                        .map_err(|error| db_error("postgres", error))?
                        .iter()
                        .map(suppression_pg)
                        .collect(),
                    Pool::Sqlite(pool) => sqlx::query(LIST)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                        .map_err(|error| db_error("sqlite", error))?
                        .iter()
                        .map(suppression_sqlite)
                        .collect(),
                    _ => Err(unsupported()),
                }
            })
            .await
    }
}

/// The delivery event store over the project's database (either backend).
#[derive(Debug, Clone)]
pub struct SqlDeliveryEvents {
    db: Database,
    metrics: PortMetrics,
}

impl SqlDeliveryEvents {
    /// The store in `db` (migrated to 0009 or later).
    pub fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            metrics: PortMetrics::new("email", adapter_of(db)),
        }
    }
}

#[async_trait]
impl DeliveryStatusStore for SqlDeliveryEvents {
    async fn record(&self, event: &DeliveryEvent) -> Result<bool> {
        self.metrics
            .call("delivery_events.record", async {
                check_event(event)?;
                let (kind, detail) = event.kind.to_parts();
                let message_id = event.message_id.as_ref().map(MessageId::as_str);
                let recipient = event.recipient.as_str();
                let affected = match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(RECORD)
                        .bind(&event.provider_event_id)
                        .bind(message_id)
                        .bind(recipient)
                        .bind(kind)
                        .bind(detail)
                        .bind(event.occurred_at.trunc_subsecs(6))
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("postgres", error))?
                        .rows_affected(),
                    Pool::Sqlite(pool) => sqlx::query(RECORD)
                        .bind(&event.provider_event_id)
                        .bind(message_id)
                        .bind(recipient)
                        .bind(kind)
                        .bind(detail)
                        .bind(sqlite_time(event.occurred_at))
                        .execute(pool)
                        .await
                        .map_err(|error| db_error("sqlite", error))?
                        .rows_affected(),
                    _ => return Err(unsupported()),
                };
                Ok(affected == 1)
            })
            .await
    }

    async fn status(&self, id: &MessageId) -> Result<Option<DeliveryStatus>> {
        self.metrics
            .call("delivery_events.status", async {
                let events: Vec<DeliveryEvent> = match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(EVENTS_OF_MESSAGE)
                        .bind(id.as_str())
                        .fetch_all(pool)
                        .await
                        .map_err(|error| db_error("postgres", error))?
                        .iter()
                        .map(|row| {
                            event_from(
                                id,
                                column!(row, "provider_event_id", String)?,
                                &column!(row, "recipient", String)?,
                                &column!(row, "kind", String)?,
                                column!(row, "detail", Option<String>)?.as_deref(),
                                column!(row, "occurred_at", DateTime<Utc>)?,
                            )
                        })
                        .collect::<Result<_>>()?,
                    Pool::Sqlite(pool) => sqlx::query(EVENTS_OF_MESSAGE)
                        .bind(id.as_str())
                        .fetch_all(pool)
                        .await
                        .map_err(|error| db_error("sqlite", error))?
                        .iter()
                        .map(|row| {
                            event_from(
                                id,
                                column!(row, "provider_event_id", String)?,
                                &column!(row, "recipient", String)?,
                                &column!(row, "kind", String)?,
                                column!(row, "detail", Option<String>)?.as_deref(),
                                parse_time("occurred_at", &column!(row, "occurred_at", String)?)?,
                            )
                        })
                        .collect::<Result<_>>()?,
                    _ => return Err(unsupported()),
                };
                Ok(status_from_events(&events))
            })
            .await
    }
}
