//! The table queue on PostgreSQL: rows claimed with `FOR UPDATE SKIP LOCKED`, so
//! concurrent consumers never wait for each other nor take the same row.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPool};
use sqlx::{PgConnection, Row};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::SqlQueueError;
use crate::queue::ListenerTask;
use crate::rows::{Claimed, DeadRow, Lease, NewMessage, with_attempt};

type Result<T> = std::result::Result<T, SqlQueueError>;

const DEAD_COLUMNS: &str = "id, queue, envelope::text AS envelope, reason, attempts, \
     first_failed_at, last_failed_at, dead_lettered_at";

/// The channel publishes `NOTIFY` (with the queue's name as payload) and receivers `LISTEN` on.
pub(crate) const CHANNEL: &str = "seam_queue";

/// Starts a task that wakes `wake`'s waiters on every notification of [`CHANNEL`].
///
/// The listener holds one connection of the pool. It reconnects by itself after a lost
/// connection, and ends when the pool closes.
pub(crate) async fn listen(pool: &PgPool, wake: Arc<Notify>) -> Result<ListenerTask> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let task = tokio::spawn(async move {
        loop {
            match listener.recv().await {
                Ok(_) => wake.notify_waiters(),
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    tracing::debug!(error.message = %error, "queue LISTEN failed; retrying");
                    // Receivers poll meanwhile; a notification lost here only delays one.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    wake.notify_waiters();
                }
            }
        }
    });
    Ok(ListenerTask::new(task))
}

pub(crate) async fn publish(
    pool: &PgPool,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = pool.begin().await?;
    for message in messages {
        insert(&mut tx, message, now).await?;
        // Sent on commit, to every instance's listener.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&message.queue)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn insert(
    conn: &mut PgConnection,
    message: &NewMessage,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO queue_messages \
             (id, queue, message_id, message_type, routing_key, envelope, enqueued_at, available_at) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $7)",
    )
    .bind(message.id)
    .bind(&message.queue)
    .bind(message.message_id)
    .bind(&message.message_type)
    .bind(&message.routing_key)
    .bind(&message.envelope)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn claim(
    pool: &PgPool,
    queue: &str,
    now: DateTime<Utc>,
    lease_end: DateTime<Utc>,
    lease: Uuid,
) -> Result<Option<Claimed>> {
    let row = sqlx::query(
        "UPDATE queue_messages \
         SET available_at = $3, leased_until = $3, lease_id = $4, deliveries = deliveries + 1 \
         WHERE id = ( \
             SELECT id FROM queue_messages \
             WHERE queue = $1 AND available_at <= $2 \
             ORDER BY available_at \
             LIMIT 1 \
             FOR UPDATE SKIP LOCKED) \
         RETURNING id, envelope::text AS envelope, attempt, deliveries",
    )
    .bind(queue)
    .bind(now)
    .bind(lease_end)
    .bind(lease)
    .fetch_optional(pool)
    .await?;
    row.map(|row| {
        Ok(Claimed {
            id: row.try_get("id")?,
            envelope: row.try_get("envelope")?,
            attempt: i64::from(row.try_get::<i32, _>("attempt")?),
            deliveries: i64::from(row.try_get::<i32, _>("deliveries")?),
        })
    })
    .transpose()
}

pub(crate) async fn ack(pool: &PgPool, lease: Lease) -> Result<bool> {
    let done = sqlx::query("DELETE FROM queue_messages WHERE id = $1 AND lease_id = $2")
        .bind(lease.id)
        .bind(lease.lease)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn retry(
    pool: &PgPool,
    lease: Lease,
    available_at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE queue_messages \
         SET available_at = $3, leased_until = NULL, lease_id = NULL, attempt = attempt + 1, \
             last_error = $4, first_failed_at = COALESCE(first_failed_at, $5), last_failed_at = $5 \
         WHERE id = $1 AND lease_id = $2",
    )
    .bind(lease.id)
    .bind(lease.lease)
    .bind(available_at)
    .bind(reason)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn dead_letter(
    pool: &PgPool,
    lease: Lease,
    dead_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = pool.begin().await?;
    let Some(row) = sqlx::query(
        "DELETE FROM queue_messages WHERE id = $1 AND lease_id = $2 \
         RETURNING queue, message_id, message_type, routing_key, envelope::text AS envelope, \
                   attempt, deliveries, first_failed_at",
    )
    .bind(lease.id)
    .bind(lease.lease)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let attempt: i32 = row.try_get("attempt")?;
    let envelope: String = row.try_get("envelope")?;
    let envelope = with_attempt(&envelope, attempt.into())
        .map_err(|error| SqlQueueError::corrupt("queue_messages", error))?;
    let first_failed_at: Option<DateTime<Utc>> = row.try_get("first_failed_at")?;
    sqlx::query(
        "INSERT INTO queue_dead_letters \
             (id, queue, message_id, message_type, routing_key, envelope, reason, attempts, \
              first_failed_at, last_failed_at, dead_lettered_at) \
         VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $10)",
    )
    .bind(dead_id)
    .bind(row.try_get::<String, _>("queue")?)
    .bind(row.try_get::<Uuid, _>("message_id")?)
    .bind(row.try_get::<String, _>("message_type")?)
    .bind(row.try_get::<String, _>("routing_key")?)
    .bind(envelope)
    .bind(reason)
    .bind(row.try_get::<i32, _>("deliveries")?)
    .bind(first_failed_at.unwrap_or(now))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

fn dead_row(row: &sqlx::postgres::PgRow) -> Result<DeadRow> {
    Ok(DeadRow {
        id: row.try_get("id")?,
        queue: row.try_get("queue")?,
        envelope: row.try_get("envelope")?,
        reason: row.try_get("reason")?,
        attempts: i64::from(row.try_get::<i32, _>("attempts")?),
        first_failed_at: row.try_get("first_failed_at")?,
        last_failed_at: row.try_get("last_failed_at")?,
        dead_lettered_at: row.try_get("dead_lettered_at")?,
    })
}

pub(crate) async fn list(pool: &PgPool, queue: &str, limit: i64) -> Result<Vec<DeadRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DEAD_COLUMNS} FROM queue_dead_letters WHERE queue = $1 \
         ORDER BY dead_lettered_at, id LIMIT $2"
    )))
    .bind(queue)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(dead_row).collect()
}

pub(crate) async fn get(pool: &PgPool, id: Uuid) -> Result<Option<DeadRow>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DEAD_COLUMNS} FROM queue_dead_letters WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(dead_row).transpose()
}

/// Moves the dead letters `WHERE <filter>` (bound to `$1`) back onto their queues.
async fn replay_where<'a>(
    pool: &PgPool,
    filter: &'static str,
    bind: impl sqlx::Encode<'a, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'a,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut tx = pool.begin().await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM queue_dead_letters WHERE {filter} \
         RETURNING queue, message_id, message_type, routing_key, envelope::text AS envelope"
    )))
    .bind(bind)
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let message = NewMessage {
            id: Uuid::now_v7(),
            queue: row.try_get("queue")?,
            message_id: row.try_get("message_id")?,
            message_type: row.try_get("message_type")?,
            routing_key: row.try_get("routing_key")?,
            envelope: row.try_get("envelope")?,
        };
        insert(&mut tx, &message, now).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

pub(crate) async fn replay(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    Ok(replay_where(pool, "id = $1", id, now).await? == 1)
}

pub(crate) async fn replay_all(pool: &PgPool, queue: &str, now: DateTime<Utc>) -> Result<u64> {
    replay_where(pool, "queue = $1", queue.to_owned(), now).await
}

pub(crate) async fn purge(pool: &PgPool, queue: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM queue_dead_letters WHERE queue = $1")
        .bind(queue)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn check(pool: &PgPool) -> Result<()> {
    sqlx::query("SELECT 1 FROM queue_messages LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(())
}
