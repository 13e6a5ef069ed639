//! [`WebhookEventLog`] on the `webhook_events` table of migration 0008, on PostgreSQL and
//! SQLite. The upsert is one statement (`INSERT … ON CONFLICT DO UPDATE`), so concurrent
//! attempts of one event each count.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use seam_repository::{
    Error, Result, WebhookAttempt, WebhookEvent, WebhookEventLog, WebhookEventQuery,
    WebhookEventStatus, check_webhook_attempt,
};
use seam_sql::sqlx::{self, Row};
use seam_sql::{Database, Pool};
use seam_telemetry::PortMetrics;

use crate::error::db;

const UPSERT: &str = "INSERT INTO webhook_events \
        (provider, event_id, event_type, status, attempts, received_at, processed_at, \
         last_error, processing_ms, payload) \
     VALUES ($1, $2, $3, $4, 1, $5, $6, $7, $8, $9) \
     ON CONFLICT (provider, event_id) DO UPDATE SET \
        event_type = excluded.event_type, status = excluded.status, \
        attempts = webhook_events.attempts + 1, processed_at = excluded.processed_at, \
        last_error = excluded.last_error, processing_ms = excluded.processing_ms, \
        payload = excluded.payload";

const SELECT_ONE: &str = "SELECT provider, event_id, event_type, status, attempts, \
     received_at, processed_at, last_error, processing_ms, payload \
     FROM webhook_events WHERE provider = $1 AND event_id = $2";

const LIST_PG: &str = "SELECT provider, event_id, event_type, status, attempts, \
     received_at, processed_at, last_error, processing_ms, payload FROM webhook_events \
     WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR provider = $2) \
     ORDER BY received_at DESC, provider, event_id LIMIT $3";

const LIST_SQLITE: &str = "SELECT provider, event_id, event_type, status, attempts, \
     received_at, processed_at, last_error, processing_ms, payload FROM webhook_events \
     WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR provider = $2) \
     ORDER BY received_at DESC, provider, event_id LIMIT $3";

/// The webhook event log over the project's database (either backend).
#[derive(Debug, Clone)]
pub struct SqlWebhookEvents {
    db: Database,
    metrics: PortMetrics,
}

impl SqlWebhookEvents {
    /// The log in `db` (migrated to 0008 or later).
    pub fn new(db: &Database) -> Self {
        let adapter = match db.pool() {
            Pool::Postgres(_) => "postgres",
            _ => "sqlite",
        };
        Self {
            db: db.clone(),
            metrics: PortMetrics::new("repository", adapter),
        }
    }

    fn adapter(&self) -> &'static str {
        match self.db.pool() {
            Pool::Postgres(_) => "postgres",
            _ => "sqlite",
        }
    }
}

fn sqlite_time(time: DateTime<Utc>) -> String {
    time.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

fn corrupt(column: &str, detail: impl std::fmt::Display) -> Error {
    Error::internal(
        "sql",
        format!("webhook_events.{column} cannot be read: {detail}"),
    )
}

fn parse_time(column: &str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| corrupt(column, error))
}

struct Raw {
    provider: String,
    event_id: String,
    event_type: String,
    status: String,
    attempts: i64,
    received_at: DateTime<Utc>,
    processed_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    processing_ms: Option<i64>,
    payload: String,
}

impl Raw {
    fn into_event(self) -> Result<WebhookEvent> {
        Ok(WebhookEvent {
            provider: self.provider,
            event_id: self.event_id,
            event_type: self.event_type,
            status: self
                .status
                .parse::<WebhookEventStatus>()
                .map_err(|error| corrupt("status", error))?,
            attempts: u32::try_from(self.attempts).map_err(|error| corrupt("attempts", error))?,
            received_at: self.received_at,
            processed_at: self.processed_at,
            last_error: self.last_error,
            processing_ms: self
                .processing_ms
                .map(u64::try_from)
                .transpose()
                .map_err(|error| corrupt("processing_ms", error))?,
            payload: self.payload,
        })
    }

    fn from_pg(row: &sqlx::postgres::PgRow) -> std::result::Result<Self, sqlx::Error> {
        Ok(Self {
            provider: row.try_get("provider")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("event_type")?,
            status: row.try_get("status")?,
            attempts: i64::from(row.try_get::<i32, _>("attempts")?),
            received_at: row.try_get("received_at")?,
            processed_at: row.try_get("processed_at")?,
            last_error: row.try_get("last_error")?,
            processing_ms: row.try_get("processing_ms")?,
            payload: row.try_get("payload")?,
        })
    }

    fn from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<Self> {
        let get = |column: &str| -> Result<String> {
            row.try_get::<String, _>(column)
                .map_err(|error| corrupt(column, error))
        };
        let optional = |column: &str| -> Result<Option<String>> {
            row.try_get::<Option<String>, _>(column)
                .map_err(|error| corrupt(column, error))
        };
        Ok(Self {
            provider: get("provider")?,
            event_id: get("event_id")?,
            event_type: get("event_type")?,
            status: get("status")?,
            attempts: row
                .try_get("attempts")
                .map_err(|error| corrupt("attempts", error))?,
            received_at: parse_time("received_at", &get("received_at")?)?,
            processed_at: optional("processed_at")?
                .map(|text| parse_time("processed_at", &text))
                .transpose()?,
            last_error: optional("last_error")?,
            processing_ms: row
                .try_get("processing_ms")
                .map_err(|error| corrupt("processing_ms", error))?,
            payload: get("payload")?,
        })
    }
}

impl SqlWebhookEvents {
    async fn fetch(&self, provider: &str, event_id: &str) -> Result<Option<WebhookEvent>> {
        let raw = match self.db.pool() {
            Pool::Postgres(pool) => sqlx::query(SELECT_ONE)
                .bind(provider)
                .bind(event_id)
                .fetch_optional(pool)
                .await
                .and_then(|row| row.as_ref().map(Raw::from_pg).transpose())
                .map_err(|error| db("postgres", error))?,
            Pool::Sqlite(pool) => sqlx::query(SELECT_ONE)
                .bind(provider)
                .bind(event_id)
                .fetch_optional(pool)
                .await
                .map_err(|error| db("sqlite", error))?
                .as_ref()
                .map(Raw::from_sqlite)
                .transpose()?,
            _ => return Err(Error::internal("sql", "unsupported database backend")),
        };
        raw.map(Raw::into_event).transpose()
    }
}

#[async_trait]
impl WebhookEventLog for SqlWebhookEvents {
    async fn record(&self, attempt: &WebhookAttempt) -> Result<WebhookEvent> {
        self.metrics
            .call("webhook_events.record", async {
                check_webhook_attempt(attempt)?;
                let processing_ms = i64::try_from(attempt.processing_ms).unwrap_or(i64::MAX);
                let received_at = attempt.received_at.trunc_subsecs(6);
                let finished_at = attempt.finished_at.trunc_subsecs(6);
                match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(UPSERT)
                        .bind(&attempt.provider)
                        .bind(&attempt.event_id)
                        .bind(&attempt.event_type)
                        .bind(attempt.status.as_str())
                        .bind(received_at)
                        .bind(finished_at)
                        .bind(attempt.error.as_deref())
                        .bind(processing_ms)
                        .bind(&attempt.payload)
                        .execute(pool)
                        .await
                        .map(|_| ())
                        .map_err(|error| db("postgres", error))?,
                    Pool::Sqlite(pool) => sqlx::query(UPSERT)
                        .bind(&attempt.provider)
                        .bind(&attempt.event_id)
                        .bind(&attempt.event_type)
                        .bind(attempt.status.as_str())
                        .bind(sqlite_time(received_at))
                        .bind(sqlite_time(finished_at))
                        .bind(attempt.error.as_deref())
                        .bind(processing_ms)
                        .bind(&attempt.payload)
                        .execute(pool)
                        .await
                        .map(|_| ())
                        .map_err(|error| db("sqlite", error))?,
                    _ => return Err(Error::internal("sql", "unsupported database backend")),
                };
                self.fetch(&attempt.provider, &attempt.event_id)
                    .await?
                    .ok_or_else(|| Error::internal(self.adapter(), "the upserted row is gone"))
            })
            .await
    }

    async fn get(&self, provider: &str, event_id: &str) -> Result<WebhookEvent> {
        self.metrics
            .call("webhook_events.get", async {
                self.fetch(provider, event_id).await?.ok_or_else(|| {
                    Error::not_found("webhook event", format!("{provider} {event_id}"))
                })
            })
            .await
    }

    async fn list(&self, query: &WebhookEventQuery) -> Result<Vec<WebhookEvent>> {
        self.metrics
            .call("webhook_events.list", async {
                if query.limit == 0 || query.limit > 100 {
                    return Err(Error::invalid("limit", "must be between 1 and 100"));
                }
                let status = query.status.map(|status| status.as_str());
                let provider = query.provider.as_deref();
                let limit = i64::try_from(query.limit).unwrap_or(100);
                let raws: Vec<Raw> = match self.db.pool() {
                    Pool::Postgres(pool) => sqlx::query(LIST_PG)
                        .bind(status)
                        .bind(provider)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                        .and_then(|rows| rows.iter().map(Raw::from_pg).collect())
                        .map_err(|error| db("postgres", error))?,
                    Pool::Sqlite(pool) => sqlx::query(LIST_SQLITE)
                        .bind(status)
                        .bind(provider)
                        .bind(limit)
                        .fetch_all(pool)
                        .await
                        .map_err(|error| db("sqlite", error))?
                        .iter()
                        .map(Raw::from_sqlite)
                        .collect::<Result<_>>()?,
                    _ => return Err(Error::internal("sql", "unsupported database backend")),
                };
                raws.into_iter().map(Raw::into_event).collect()
            })
            .await
    }
}
