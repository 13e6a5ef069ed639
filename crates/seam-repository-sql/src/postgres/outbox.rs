//! [`OutboxStore`] on PostgreSQL: leases with `FOR UPDATE SKIP LOCKED`, wake-ups by
//! `LISTEN seam_outbox`.

use std::time::Duration;

use async_trait::async_trait;
use seam_repository::{Error, OutboxRecord, OutboxStore, Result, check_limit};
use seam_sql::sqlx::postgres::PgListener;
use seam_sql::sqlx::{self, AssertSqlSafe};
use uuid::Uuid;

use super::rows::OUTBOX_COLUMNS;
use super::{ADAPTER, METRICS, OUTBOX_CHANNEL, PgDialect, PostgresRepositories, db};
use crate::rows::outbox_from_row;
use crate::statements::Statements;

/// Rows a relay may claim: not published, lease never taken or run out.
const CLAIMABLE: &str = "published_at IS NULL AND (locked_until IS NULL OR locked_until < now())";

impl PostgresRepositories {
    async fn claimable_exists(&self) -> Result<bool> {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE {CLAIMABLE})"
        )))
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }
}

#[async_trait]
impl OutboxStore for PostgresRepositories {
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<OutboxRecord>> {
        METRICS
            .call("outbox.claim", async {
                check_limit(limit)?;
                // SKIP LOCKED: a row another relay is claiming right now is left to it
                // rather than waited for and then claimed twice.
                let sql = format!(
                    "UPDATE outbox SET locked_until = now() + make_interval(secs => $2) \
                     WHERE id IN (SELECT id FROM outbox WHERE {CLAIMABLE} \
                     ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                     RETURNING {OUTBOX_COLUMNS}"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(i64::from(limit))
                    .bind(lease.as_secs_f64())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut records = rows
                    .iter()
                    .map(outbox_from_row)
                    .collect::<Result<Vec<_>>>()?;
                // RETURNING does not keep the subquery's order.
                records.sort_by_key(|record| (record.created_at, record.message.id));
                Ok(records)
            })
            .await
    }

    async fn mark_published(&self, ids: &[Uuid]) -> Result<()> {
        METRICS
            .call("outbox.mark_published", async {
                if ids.is_empty() {
                    return Ok(());
                }
                sqlx::query(
                    "UPDATE outbox SET published_at = now(), locked_until = NULL \
                     WHERE id = ANY($1) AND published_at IS NULL",
                )
                .bind(ids)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn release(&self, id: Uuid, error: &str) -> Result<()> {
        Statements::<PgDialect>::new(&self.pool)
            .release_outbox(id, error)
            .await
    }

    async fn backlog(&self) -> Result<u64> {
        Statements::<PgDialect>::new(&self.pool)
            .outbox_backlog()
            .await
    }

    /// Waiters in one process take turns on the one listener connection.
    async fn wait_for_work(&self, max_wait: Duration) -> Result<bool> {
        METRICS
            .call("outbox.wait_for_work", async {
                let mut guard = self.listener.lock().await;
                if guard.is_none() {
                    let mut listener = PgListener::connect_with(&self.pool).await.map_err(db)?;
                    listener.listen(OUTBOX_CHANNEL).await.map_err(db)?;
                    *guard = Some(listener);
                }
                let Some(listener) = guard.as_mut() else {
                    return Err(Error::internal(ADAPTER, "listener missing"));
                };
                // Notifications received so far are answered by the look at the table
                // below, which also covers commits made before we listened.
                while listener.next_buffered().is_some() {}
                if self.claimable_exists().await? {
                    return Ok(true);
                }
                match tokio::time::timeout(max_wait, listener.recv()).await {
                    Ok(Ok(_notification)) => Ok(true),
                    Ok(Err(error)) => {
                        // Start from a fresh connection next time.
                        *guard = None;
                        Err(db(error))
                    }
                    Err(_elapsed) => Ok(false),
                }
            })
            .await
    }
}
