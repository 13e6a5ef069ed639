//! [`UniquePublisher`] on the table queue: the deduplication key (table `queue_dedupe`)
//! and the queue rows are written in one transaction. A live key makes the insert a
//! no-op and nothing is published; an expired key is taken over; a failed publish rolls
//! the key back with the rows.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_queue::{Envelope, Error, Published, Result, UniquePublisher, route, validate_dedupe_key};
use seam_sql::Pool;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use uuid::Uuid;

use crate::error::SqlQueueError;
use crate::queue::{METRICS, SqlQueue};
use crate::rows::NewMessage;
use crate::{postgres, sqlite};

async fn on_sqlite(
    pool: &SqlitePool,
    key: &str,
    expires_at: DateTime<Utc>,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> std::result::Result<bool, SqlQueueError> {
    let mut tx = sqlite::begin_immediate(pool).await?;
    let now_text = sqlite::ts(now);
    let claimed = sqlx::query(
        "INSERT INTO queue_dedupe (key, expires_at) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE queue_dedupe.expires_at <= ?3",
    )
    .bind(key)
    .bind(sqlite::ts(expires_at))
    .bind(&now_text)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(false);
    }
    for message in messages {
        sqlite::insert(&mut tx, message, now).await?;
    }
    sqlx::query("DELETE FROM queue_dedupe WHERE expires_at <= ?1")
        .bind(&now_text)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

async fn on_postgres(
    pool: &PgPool,
    key: &str,
    expires_at: DateTime<Utc>,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> std::result::Result<bool, SqlQueueError> {
    let mut tx = pool.begin().await?;
    // A concurrent insert of the same key waits here for the other transaction, then
    // sees its row: exactly one of them publishes.
    let claimed = sqlx::query(
        "INSERT INTO queue_dedupe (key, expires_at) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
         WHERE queue_dedupe.expires_at <= $3",
    )
    .bind(key)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed == 0 {
        return Ok(false);
    }
    for message in messages {
        postgres::insert(&mut tx, message, now).await?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(postgres::CHANNEL)
            .bind(&message.queue)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "DELETE FROM queue_dedupe WHERE key IN \
         (SELECT key FROM queue_dedupe WHERE expires_at <= $1 LIMIT 100)",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

#[async_trait]
impl UniquePublisher for SqlQueue {
    async fn publish_unique(
        &self,
        dedupe_key: &str,
        ttl: Duration,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<Published> {
        METRICS
            .call("publish_unique", async {
                validate_dedupe_key(dedupe_key, ttl)?;
                envelope.validate()?;
                let queues = route(&self.config().bindings, routing_key)?;
                let json = serde_json::to_string(envelope).map_err(|error| Error::Invalid {
                    message: "the envelope cannot be serialised".to_owned(),
                    source: Some(error.into()),
                })?;
                let messages: Vec<NewMessage> = queues
                    .into_iter()
                    .map(|queue| NewMessage {
                        id: Uuid::now_v7(),
                        queue: queue.to_owned(),
                        message_id: envelope.message_id,
                        message_type: envelope.message_type.clone(),
                        routing_key: routing_key.to_owned(),
                        envelope: json.clone(),
                    })
                    .collect();
                let now = self.now();
                let ttl = chrono::Duration::from_std(ttl)
                    .map_err(|_| Error::invalid("the deduplication time to live is too long"))?;
                let expires_at = now + ttl;
                let published = match self.database().pool() {
                    Pool::Postgres(pool) => {
                        on_postgres(pool, dedupe_key, expires_at, &messages, now).await
                    }
                    Pool::Sqlite(pool) => {
                        on_sqlite(pool, dedupe_key, expires_at, &messages, now).await
                    }
                    _ => Err(SqlQueueError::corrupt(
                        "database",
                        "a backend this adapter does not support",
                    )),
                }?;
                if published {
                    self.published();
                    Ok(Published::New)
                } else {
                    Ok(Published::Duplicate)
                }
            })
            .await
    }
}
