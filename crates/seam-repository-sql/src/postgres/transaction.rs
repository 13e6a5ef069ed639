//! [`Transaction`](seam_repository::Transaction) on PostgreSQL: one `sqlx::Transaction`
//! owned for the unit of work.

use chrono::SubsecRound;
use seam_core::ErrorKind;
use seam_domain::{Order, OrderId};
use seam_repository::{Error, OutboxMessage, Result};
use seam_sql::sqlx::{self, Postgres};

use super::{METRICS, OUTBOX_CHANNEL, PgDialect, db};
use crate::error::violated;
use crate::statements::Statements;

/// An open transaction. Dropping it rolls back (sqlx queues the `ROLLBACK` on the
/// connection before it is reused).
pub(crate) struct PostgresTransaction {
    tx: sqlx::Transaction<'static, Postgres>,
}

impl PostgresTransaction {
    pub(crate) fn new(tx: sqlx::Transaction<'static, Postgres>) -> Self {
        Self { tx }
    }

    async fn order(&mut self, id: OrderId, for_update: bool) -> Result<Option<Order>> {
        let lock = if for_update { " FOR UPDATE" } else { "" };
        Statements::<PgDialect>::order_on(&mut self.tx, id, lock).await
    }
}

crate::statements::impl_transaction!(PostgresTransaction, PgDialect, {
    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>> {
        METRICS
            .call("tx.get_order_for_update", self.order(id, true))
            .await
    }

    async fn add_outbox(&mut self, message: OutboxMessage) -> Result<()> {
        METRICS
            .call("tx.add_outbox", async {
                message.validate()?;
                let payload = serde_json::to_string(&message.payload)
                    .map_err(|error| Error::invalid("payload", error.to_string()))?;
                sqlx::query(
                    "INSERT INTO outbox (id, routing_key, message_type, schema_version, payload, \
                     correlation_id, causation_id, traceparent, occurred_at, created_at) \
                     VALUES ($1, $2, $3, $4, CAST($5 AS jsonb), $6, $7, $8, $9, clock_timestamp())",
                )
                .bind(message.id)
                .bind(&message.routing_key)
                .bind(&message.message_type)
                .bind(message.schema_version as i32)
                .bind(payload)
                .bind(message.correlation_id)
                .bind(message.causation_id)
                .bind(message.traceparent.as_deref())
                .bind(message.occurred_at.trunc_subsecs(6))
                .execute(&mut *self.tx)
                .await
                .map_err(|error| match violated(&error) {
                    Some(ErrorKind::AlreadyExists) => {
                        Error::already_exists("outbox message", format!("id {}", message.id))
                    }
                    _ => db(error),
                })?;
                // Delivered to listeners when (and only if) the transaction commits.
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(OUTBOX_CHANNEL)
                    .bind(message.id.to_string())
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db)?;
                Ok(())
            })
            .await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        METRICS
            .call("tx.commit", async { self.tx.commit().await.map_err(db) })
            .await
    }
});
