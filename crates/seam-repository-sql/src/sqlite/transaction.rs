//! [`Transaction`](seam_repository::Transaction) on SQLite: one `BEGIN IMMEDIATE`
//! transaction owned for the unit of work.

use std::sync::Arc;

use seam_core::ErrorKind;
use seam_domain::{Order, OrderId};
use seam_repository::{Error, OutboxMessage, Result};
use seam_sql::sqlx::{self, Sqlite};
use tokio::sync::Notify;

use super::rows::{id_text, now, time_text};
use super::{METRICS, SqliteDialect, db};
use crate::error::violated;
use crate::statements::Statements;

/// An open transaction. Dropping it rolls back (sqlx queues the `ROLLBACK` on the
/// connection before it is reused).
pub(crate) struct SqliteTransaction {
    tx: sqlx::Transaction<'static, Sqlite>,
    outbox_added: Arc<Notify>,
    added: bool,
}

impl SqliteTransaction {
    pub(crate) fn new(tx: sqlx::Transaction<'static, Sqlite>, outbox_added: Arc<Notify>) -> Self {
        Self {
            tx,
            outbox_added,
            added: false,
        }
    }

    async fn order(&mut self, id: OrderId) -> Result<Option<Order>> {
        Statements::<SqliteDialect>::order_on(&mut self.tx, id, "").await
    }
}

crate::statements::impl_transaction!(SqliteTransaction, SqliteDialect, {
    /// `BEGIN IMMEDIATE` already excludes every other writer until this transaction ends.
    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>> {
        METRICS
            .call("tx.get_order_for_update", self.order(id))
            .await
    }

    async fn add_outbox(&mut self, message: OutboxMessage) -> Result<()> {
        METRICS
            .call("tx.add_outbox", async {
                message.validate()?;
                let payload = serde_json::to_string(&message.payload)
                    .map_err(|error| Error::invalid("payload", error.to_string()))?;
                let (_, at) = now();
                sqlx::query(
                    "INSERT INTO outbox (id, routing_key, message_type, schema_version, payload, \
                     correlation_id, causation_id, traceparent, occurred_at, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .bind(id_text(message.id))
                .bind(&message.routing_key)
                .bind(&message.message_type)
                .bind(i64::from(message.schema_version))
                .bind(payload)
                .bind(id_text(message.correlation_id))
                .bind(message.causation_id.map(id_text))
                .bind(message.traceparent.as_deref())
                .bind(time_text(message.occurred_at))
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(|error| match violated(&error) {
                    Some(ErrorKind::AlreadyExists) => {
                        Error::already_exists("outbox message", format!("id {}", message.id))
                    }
                    _ => db(error),
                })?;
                self.added = true;
                Ok(())
            })
            .await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        METRICS
            .call("tx.commit", async {
                let Self {
                    tx,
                    outbox_added,
                    added,
                } = *self;
                tx.commit().await.map_err(db)?;
                if added {
                    outbox_added.notify_waiters();
                }
                Ok(())
            })
            .await
    }
});
