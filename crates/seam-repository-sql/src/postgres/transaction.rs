//! [`Transaction`] on PostgreSQL: one `sqlx::Transaction` owned for the unit of work.

use async_trait::async_trait;
use chrono::SubsecRound;
use seam_core::ErrorKind;
use seam_domain::{Order, OrderId, Quantity, Sku};
use seam_repository::{
    Error, OutboxMessage, Reservation, Result, StoredResponse, Transaction, check_consumer,
    check_idempotency_key, check_stored_response,
};
use seam_sql::sqlx::{self, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{ADAPTER, METRICS, OUTBOX_CHANNEL, PgDialect, db};
use crate::error::{not_updated, order_insert_error, violated};
use crate::rows::stored_response;
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

#[async_trait]
impl Transaction for PostgresTransaction {
    async fn insert_order(&mut self, order: &Order) -> Result<()> {
        METRICS
            .call("tx.insert_order", async {
                let version = i32::try_from(order.version)
                    .map_err(|_| Error::invalid("version", "is out of range"))?;
                sqlx::query(
                    "INSERT INTO orders (id, customer_id, status, currency, total_minor, \
                     rejection_reason, created_at, updated_at, version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(order.id.into_uuid())
                .bind(order.customer_id.into_uuid())
                .bind(order.status.as_str())
                .bind(order.total.currency().code())
                .bind(order.total.minor())
                .bind(order.rejection_reason.as_deref())
                .bind(order.created_at.trunc_subsecs(6))
                .bind(order.updated_at.trunc_subsecs(6))
                .bind(version)
                .execute(&mut *self.tx)
                .await
                .map_err(|error| order_insert_error(ADAPTER, error, order))?;
                if order.lines.is_empty() {
                    return Ok(());
                }
                let mut lines: QueryBuilder<Postgres> = QueryBuilder::new(
                    "INSERT INTO order_lines (order_id, line_no, sku, quantity, unit_price_minor, currency) ",
                );
                lines.push_values(order.lines.iter().enumerate(), |mut row, (index, line)| {
                    row.push_bind(order.id.into_uuid())
                        .push_bind(index as i32 + 1)
                        .push_bind(line.sku.as_str().to_owned())
                        .push_bind(line.quantity.get() as i32)
                        .push_bind(line.unit_price.minor())
                        .push_bind(line.unit_price.currency().code());
                });
                lines
                    .build()
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|error| order_insert_error(ADAPTER, error, order))?;
                Ok(())
            })
            .await
    }

    async fn get_order_for_update(&mut self, id: OrderId) -> Result<Option<Order>> {
        METRICS
            .call("tx.get_order_for_update", self.order(id, true))
            .await
    }

    async fn update_order(&mut self, order: &Order, expected_version: i64) -> Result<Order> {
        METRICS
            .call("tx.update_order", async {
                let version = i32::try_from(expected_version)
                    .map_err(|_| Error::stale_version("order", order.id, expected_version))?;
                let done = sqlx::query(
                    "UPDATE orders SET status = $3, rejection_reason = $4, updated_at = $5, \
                     version = version + 1 WHERE id = $1 AND version = $2",
                )
                .bind(order.id.into_uuid())
                .bind(version)
                .bind(order.status.as_str())
                .bind(order.rejection_reason.as_deref())
                .bind(order.updated_at.trunc_subsecs(6))
                .execute(&mut *self.tx)
                .await
                .map_err(db)?;
                let stored = self.order(order.id, false).await?;
                match (done.rows_affected(), stored) {
                    (1, Some(stored)) => Ok(stored),
                    (_, stored) => Err(not_updated(
                        "order",
                        order.id,
                        expected_version,
                        stored.is_some(),
                    )),
                }
            })
            .await
    }

    async fn reserve_stock(&mut self, items: &[(Sku, Quantity)]) -> Result<Reservation> {
        METRICS
            .call("tx.reserve_stock", async {
                // SKU order: concurrent reservations lock rows in the same order, so they
                // wait for each other instead of deadlocking.
                let mut sorted: Vec<&(Sku, Quantity)> = items.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                sqlx::raw_sql("SAVEPOINT seam_reserve")
                    .execute(&mut *self.tx)
                    .await
                    .map_err(db)?;
                for (sku, quantity) in sorted {
                    let units = quantity.get() as i32;
                    let done = sqlx::query(
                        "UPDATE inventory SET on_hand = on_hand - $2, updated_at = now() \
                         WHERE sku = $1 AND on_hand >= $2",
                    )
                    .bind(sku.as_str())
                    .bind(units)
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
                        let available: Option<i32> =
                            sqlx::query_scalar("SELECT on_hand FROM inventory WHERE sku = $1")
                                .bind(sku.as_str())
                                .fetch_optional(&mut *self.tx)
                                .await
                                .map_err(db)?;
                        return Ok(Reservation::Insufficient {
                            sku: sku.clone(),
                            requested: *quantity,
                            available: i64::from(available.unwrap_or(0)),
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

    async fn record_inbox(&mut self, consumer: &str, message_id: Uuid) -> Result<bool> {
        METRICS
            .call("tx.record_inbox", async {
                check_consumer(consumer)?;
                let done = sqlx::query(
                    "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) \
                     ON CONFLICT (consumer, message_id) DO NOTHING",
                )
                .bind(consumer)
                .bind(message_id)
                .execute(&mut *self.tx)
                .await
                .map_err(db)?;
                Ok(done.rows_affected() == 1)
            })
            .await
    }

    async fn idempotency(&mut self, scope: &str, key: &str) -> Result<Option<StoredResponse>> {
        METRICS
            .call("tx.idempotency", async {
                check_idempotency_key(scope, key)?;
                let row: Option<(String, i32, String)> = sqlx::query_as(
                    "SELECT request_hash, status_code, response::text FROM idempotency_keys \
                     WHERE scope = $1 AND key = $2",
                )
                .bind(scope)
                .bind(key)
                .fetch_optional(&mut *self.tx)
                .await
                .map_err(db)?;
                row.map(|(hash, status, body)| {
                    stored_response(ADAPTER, (hash, i64::from(status), body))
                })
                .transpose()
            })
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
                // DO NOTHING waits for a concurrent insert of the same key to commit or
                // roll back, and leaves this transaction usable either way.
                let done = sqlx::query(
                    "INSERT INTO idempotency_keys (scope, key, request_hash, response, status_code) \
                     VALUES ($1, $2, $3, CAST($4 AS jsonb), $5) ON CONFLICT (scope, key) DO NOTHING",
                )
                .bind(scope)
                .bind(key)
                .bind(&response.request_hash)
                .bind(body)
                .bind(i32::from(response.status_code))
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
            .call("tx.commit", async { self.tx.commit().await.map_err(db) })
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
