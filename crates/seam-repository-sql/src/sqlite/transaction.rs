//! [`Transaction`] on SQLite: one `BEGIN IMMEDIATE` transaction owned for the unit of work.

use std::sync::Arc;

use async_trait::async_trait;
use seam_core::ErrorKind;
use seam_domain::{Order, OrderId, Quantity, Sku};
use seam_repository::{
    Error, OutboxMessage, Reservation, Result, StoredResponse, Transaction, check_consumer,
    check_idempotency_key, check_stored_response,
};
use seam_sql::sqlx::{self, Sqlite};
use tokio::sync::Notify;
use uuid::Uuid;

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

#[async_trait]
impl Transaction for SqliteTransaction {
    async fn insert_order(&mut self, order: &Order) -> Result<()> {
        METRICS
            .call(
                "tx.insert_order",
                Statements::<SqliteDialect>::insert_order(&mut self.tx, order),
            )
            .await
    }

    /// `BEGIN IMMEDIATE` already excludes every other writer until this transaction ends.
    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>> {
        METRICS
            .call("tx.get_order_for_update", self.order(id))
            .await
    }

    async fn update_order(&mut self, order: &Order, expected_version: i64) -> Result<Order> {
        METRICS
            .call(
                "tx.update_order",
                Statements::<SqliteDialect>::update_order(&mut self.tx, order, expected_version),
            )
            .await
    }

    async fn reserve_stock(&mut self, items: &[(Sku, Quantity)]) -> Result<Reservation> {
        METRICS
            .call("tx.reserve_stock", async {
                let mut sorted: Vec<&(Sku, Quantity)> = items.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let (_, at) = now();
                sqlx::raw_sql("SAVEPOINT seam_reserve")
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db)?;
                for (sku, quantity) in sorted {
                    let units = i64::from(quantity.get());
                    let done = sqlx::query(
                        "UPDATE inventory SET on_hand = on_hand - ?2, updated_at = ?3 \
                         WHERE sku = ?1 AND on_hand >= ?2",
                    )
                    .bind(sku.as_str())
                    .bind(units)
                    .bind(&at)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() == 0 {
                        sqlx::raw_sql(
                            "ROLLBACK TO SAVEPOINT seam_reserve; RELEASE SAVEPOINT seam_reserve",
                        )
                        .execute(&mut *self.tx)
                        .await
                        .map_err(db)?;
                        let available: Option<i64> =
                            sqlx::query_scalar("SELECT on_hand FROM inventory WHERE sku = ?1")
                                .bind(sku.as_str())
                                .fetch_optional(&mut *self.tx)
                                .await
                                .map_err(db)?;
                        return Ok(Reservation::Insufficient {
                            sku: sku.clone(),
                            requested: *quantity,
                            available: available.unwrap_or(0),
                        });
                    }
                }
                sqlx::raw_sql("RELEASE SAVEPOINT seam_reserve")
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db)?;
                Ok(Reservation::Reserved)
            })
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

    async fn record_inbox(&mut self, consumer: &str, message_id: Uuid) -> Result<bool> {
        METRICS
            .call("tx.record_inbox", async {
                check_consumer(consumer)?;
                let (_, at) = now();
                let done = sqlx::query(
                    "INSERT INTO inbox (consumer, message_id, processed_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (consumer, message_id) DO NOTHING",
                )
                .bind(consumer)
                .bind(id_text(message_id))
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    async fn idempotency(&mut self, scope: &str, key: &str) -> Result<Option<StoredResponse>> {
        METRICS
            .call(
                "tx.idempotency",
                Statements::<SqliteDialect>::idempotency(&mut self.tx, scope, key),
            )
            .await
    }

    async fn save_idempotency(
        &mut self,
        scope: &str,
        key: &str,
        response: StoredResponse,
    ) -> Result<()> {
        METRICS
            .call("tx.save_idempotency", async {
                check_idempotency_key(scope, key)?;
                check_stored_response(&response)?;
                let body = serde_json::to_string(&response.body)
                    .map_err(|error| Error::invalid("body", error.to_string()))?;
                let (_, at) = now();
                let done = sqlx::query(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, response, status_code, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, key) DO NOTHING",
                )
                .bind(scope)
                .bind(key)
                .bind(&response.request_hash)
                .bind(body)
                .bind(i64::from(response.status_code))
                .bind(at)
                .execute(&mut *self.tx)
                .await
                .map_err(db)?;
                if done.rows_affected() == 0 {
                    return Err(Error::already_exists(
                        "idempotency key",
                        format!("{scope}/{key}"),
                    ));
                }
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

    async fn rollback(self: Box<Self>) -> Result<()> {
        METRICS
            .call("tx.rollback", async {
                self.tx.rollback().await.map_err(db)
            })
            .await
    }
}
