//! The table queue on SQLite, the embedded default: each claim is one
//! `UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING` inside `BEGIN IMMEDIATE`, which takes
//! the database's write lock up front, so two consumers never claim the same row and
//! never fail half-way on a lock upgrade.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqlitePool, SqliteRow};
use sqlx::{Row, SqliteConnection};
use uuid::Uuid;

use crate::error::SqlQueueError;
use crate::rows::{Claimed, DeadRow, Lease, NewMessage, with_attempt};

type Result<T> = std::result::Result<T, SqlQueueError>;

const DEAD_COLUMNS: &str = "id, queue, envelope, reason, attempts, \
     first_failed_at, last_failed_at, dead_lettered_at";

/// Fixed-width RFC 3339 in UTC, so that timestamps compare correctly as text.
pub(crate) fn ts(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn parse_ts(table: &'static str, text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|error| SqlQueueError::corrupt(table, format!("timestamp {text:?}: {error}")))
}

fn parse_id(table: &'static str, text: &str) -> Result<Uuid> {
    Uuid::parse_str(text)
        .map_err(|error| SqlQueueError::corrupt(table, format!("id {text:?}: {error}")))
}

pub(crate) async fn begin_immediate(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

pub(crate) async fn publish(
    pool: &SqlitePool,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut tx = begin_immediate(pool).await?;
    for message in messages {
        insert(&mut tx, message, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn insert(
    conn: &mut SqliteConnection,
    message: &NewMessage,
    now: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO queue_messages \
             (id, queue, message_id, message_type, routing_key, envelope, enqueued_at, available_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )
    .bind(message.id.to_string())
    .bind(&message.queue)
    .bind(message.message_id.to_string())
    .bind(&message.message_type)
    .bind(&message.routing_key)
    .bind(&message.envelope)
    .bind(ts(now))
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn claim(
    pool: &SqlitePool,
    queue: &str,
    now: DateTime<Utc>,
    lease_end: DateTime<Utc>,
    lease: Uuid,
) -> Result<Option<Claimed>> {
    // Look before taking the write lock: an idle poll must not serialise every writer.
    let any: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM queue_messages WHERE queue = ?1 AND available_at <= ?2 LIMIT 1",
    )
    .bind(queue)
    .bind(ts(now))
    .fetch_optional(pool)
    .await?;
    if any.is_none() {
        return Ok(None);
    }
    let mut tx = begin_immediate(pool).await?;
    let row = sqlx::query(
        "UPDATE queue_messages \
         SET available_at = ?3, leased_until = ?3, lease_id = ?4, deliveries = deliveries + 1 \
         WHERE id = ( \
             SELECT id FROM queue_messages \
             WHERE queue = ?1 AND available_at <= ?2 \
             ORDER BY available_at \
             LIMIT 1) \
         RETURNING id, envelope, attempt, deliveries",
    )
    .bind(queue)
    .bind(ts(now))
    .bind(ts(lease_end))
    .bind(lease.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    row.map(|row| {
        Ok(Claimed {
            id: parse_id("queue_messages", &row.try_get::<String, _>("id")?)?,
            envelope: row.try_get("envelope")?,
            attempt: row.try_get("attempt")?,
            deliveries: row.try_get("deliveries")?,
        })
    })
    .transpose()
}

pub(crate) async fn ack(pool: &SqlitePool, lease: Lease) -> Result<bool> {
    let done = sqlx::query("DELETE FROM queue_messages WHERE id = ?1 AND lease_id = ?2")
        .bind(lease.id.to_string())
        .bind(lease.lease.to_string())
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn retry(
    pool: &SqlitePool,
    lease: Lease,
    available_at: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE queue_messages \
         SET available_at = ?3, leased_until = NULL, lease_id = NULL, attempt = attempt + 1, \
             last_error = ?4, first_failed_at = COALESCE(first_failed_at, ?5), last_failed_at = ?5 \
         WHERE id = ?1 AND lease_id = ?2",
    )
    .bind(lease.id.to_string())
    .bind(lease.lease.to_string())
    .bind(ts(available_at))
    .bind(reason)
    .bind(ts(now))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn dead_letter(
    pool: &SqlitePool,
    lease: Lease,
    dead_id: Uuid,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let mut tx = begin_immediate(pool).await?;
    let Some(row) = sqlx::query(
        "DELETE FROM queue_messages WHERE id = ?1 AND lease_id = ?2 \
         RETURNING queue, message_id, message_type, routing_key, envelope, \
                   attempt, deliveries, first_failed_at",
    )
    .bind(lease.id.to_string())
    .bind(lease.lease.to_string())
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let envelope: String = row.try_get("envelope")?;
    let envelope = with_attempt(&envelope, row.try_get("attempt")?)
        .map_err(|error| SqlQueueError::corrupt("queue_messages", error))?;
    let first_failed_at: Option<String> = row.try_get("first_failed_at")?;
    let now = ts(now);
    sqlx::query(
        "INSERT INTO queue_dead_letters \
             (id, queue, message_id, message_type, routing_key, envelope, reason, attempts, \
              first_failed_at, last_failed_at, dead_lettered_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    )
    .bind(dead_id.to_string())
    .bind(row.try_get::<String, _>("queue")?)
    .bind(row.try_get::<String, _>("message_id")?)
    .bind(row.try_get::<String, _>("message_type")?)
    .bind(row.try_get::<String, _>("routing_key")?)
    .bind(envelope)
    .bind(reason)
    .bind(row.try_get::<i64, _>("deliveries")?)
    .bind(first_failed_at.unwrap_or_else(|| now.clone()))
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

fn dead_row(row: &SqliteRow) -> Result<DeadRow> {
    const TABLE: &str = "queue_dead_letters";
    Ok(DeadRow {
        id: parse_id(TABLE, &row.try_get::<String, _>("id")?)?,
        queue: row.try_get("queue")?,
        envelope: row.try_get("envelope")?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        first_failed_at: parse_ts(TABLE, &row.try_get::<String, _>("first_failed_at")?)?,
        last_failed_at: parse_ts(TABLE, &row.try_get::<String, _>("last_failed_at")?)?,
        dead_lettered_at: parse_ts(TABLE, &row.try_get::<String, _>("dead_lettered_at")?)?,
    })
}

pub(crate) async fn list(pool: &SqlitePool, queue: &str, limit: i64) -> Result<Vec<DeadRow>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DEAD_COLUMNS} FROM queue_dead_letters WHERE queue = ?1 \
         ORDER BY dead_lettered_at, id LIMIT ?2"
    )))
    .bind(queue)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter().map(dead_row).collect()
}

pub(crate) async fn get(pool: &SqlitePool, id: Uuid) -> Result<Option<DeadRow>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {DEAD_COLUMNS} FROM queue_dead_letters WHERE id = ?1"
    )))
    .bind(id.to_string())
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(dead_row).transpose()
}

/// Moves the dead letters `WHERE <filter>` (bound to `?1`) back onto their queues.
async fn replay_where(
    pool: &SqlitePool,
    filter: &'static str,
    bind: String,
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut tx = begin_immediate(pool).await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM queue_dead_letters WHERE {filter} \
         RETURNING queue, message_id, message_type, routing_key, envelope"
    )))
    .bind(bind)
    .fetch_all(&mut *tx)
    .await?;
    for row in &rows {
        let message = NewMessage {
            id: Uuid::now_v7(),
            queue: row.try_get("queue")?,
            message_id: parse_id(
                "queue_dead_letters",
                &row.try_get::<String, _>("message_id")?,
            )?,
            message_type: row.try_get("message_type")?,
            routing_key: row.try_get("routing_key")?,
            envelope: row.try_get("envelope")?,
        };
        insert(&mut tx, &message, now).await?;
    }
    tx.commit().await?;
    Ok(rows.len() as u64)
}

pub(crate) async fn replay(pool: &SqlitePool, id: Uuid, now: DateTime<Utc>) -> Result<bool> {
    Ok(replay_where(pool, "id = ?1", id.to_string(), now).await? == 1)
}

pub(crate) async fn replay_all(pool: &SqlitePool, queue: &str, now: DateTime<Utc>) -> Result<u64> {
    replay_where(pool, "queue = ?1", queue.to_owned(), now).await
}

pub(crate) async fn purge(pool: &SqlitePool, queue: &str) -> Result<u64> {
    let done = sqlx::query("DELETE FROM queue_dead_letters WHERE queue = ?1")
        .bind(queue)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn check(pool: &SqlitePool) -> Result<()> {
    sqlx::query("SELECT 1 FROM queue_messages LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_and_round_trip() {
        let whole = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let fraction = whole + chrono::Duration::microseconds(7);
        assert_eq!(ts(whole), "2026-01-02T03:04:05.000000+00:00");
        assert_eq!(ts(whole).len(), ts(fraction).len());
        assert!(ts(whole) < ts(fraction));
        assert_eq!(parse_ts("t", &ts(fraction)).unwrap(), fraction);
    }
}
