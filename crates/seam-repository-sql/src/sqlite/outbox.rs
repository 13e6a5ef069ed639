//! [`OutboxStore`] on SQLite: leases in one `UPDATE ... RETURNING`, wake-ups in-process.

use std::time::Duration;

use async_trait::async_trait;
use seam_repository::{Error, OutboxRecord, OutboxStore, Result, check_limit};
use seam_sql::sqlx::{self, AssertSqlSafe, QueryBuilder, Sqlite};
use uuid::Uuid;

use super::rows::{OUTBOX_COLUMNS, id_text, now, time_text};
use super::{METRICS, SqliteDialect, SqliteRepositories, db};
use crate::rows::outbox_from_row;
use crate::statements::Statements;

/// Rows a relay may claim at time `?1`: not published, lease never taken or run out.
const CLAIMABLE: &str = "published_at IS NULL AND (locked_until IS NULL OR locked_until < ?1)";

impl SqliteRepositories {
    async fn claimable_exists(&self) -> Result<bool> {
        let (_, at) = now();
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE {CLAIMABLE})"
        )))
        .bind(at)
        .fetch_one(&self.pool)
        .await
        .map_err(db)
    }
}

#[async_trait]
impl OutboxStore for SqliteRepositories {
    async fn claim(&self, limit: u32, lease: Duration) -> Result<Vec<OutboxRecord>> {
        METRICS
            .call("outbox.claim", async {
                check_limit(limit)?;
                let lease = chrono::Duration::from_std(lease)
                    .map_err(|_| Error::invalid("lease", "is too long"))?;
                let (at, at_text) = now();
                // One statement, and SQLite has one writer at a time: two claimers never
                // see the same row as claimable.
                let sql = format!(
                    "UPDATE outbox SET locked_until = ?2 \
                     WHERE id IN (SELECT id FROM outbox WHERE {CLAIMABLE} \
                     ORDER BY created_at, id LIMIT ?3) \
                     RETURNING {OUTBOX_COLUMNS}"
                );
                let rows = sqlx::query(AssertSqlSafe(sql))
                    .bind(at_text)
                    .bind(time_text(at + lease))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                let mut records = rows
                    .iter()
                    .map(outbox_from_row)
                    .collect::<Result<Vec<_>>>()?;
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
                let (_, at) = now();
                let mut query: QueryBuilder<Sqlite> =
                    QueryBuilder::new("UPDATE outbox SET locked_until = NULL, published_at = ");
                query
                    .push_bind(at)
                    .push(" WHERE published_at IS NULL AND id IN (");
                let mut separated = query.separated(", ");
                for id in ids {
                    separated.push_bind(id_text(*id));
                }
                query.push(")");
                query.build().execute(&self.pool).await.map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn release(&self, id: Uuid, error: &str) -> Result<()> {
        Statements::<SqliteDialect>::new(&self.pool)
            .release_outbox(id, error)
            .await
    }

    async fn backlog(&self) -> Result<u64> {
        Statements::<SqliteDialect>::new(&self.pool)
            .outbox_backlog()
            .await
    }

    /// Woken by commits through this adapter (and its clones); messages written by
    /// another process are found when `max_wait` runs out and the relay looks again.
    async fn wait_for_work(&self, max_wait: Duration) -> Result<bool> {
        METRICS
            .call("outbox.wait_for_work", async {
                let notified = self.outbox_added.notified();
                tokio::pin!(notified);
                // Registered before looking, so a commit in between is not missed.
                notified.as_mut().enable();
                if self.claimable_exists().await? {
                    return Ok(true);
                }
                Ok(tokio::time::timeout(max_wait, notified).await.is_ok())
            })
            .await
    }
}
