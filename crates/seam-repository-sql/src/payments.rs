//! [`OrderPaymentRepository`](seam_repository::OrderPaymentRepository) on both dialects,
//! written once over any [`Dialect`] (each dialect's repositories get it through
//! [`impl_order_payment_repository!`]): the `order_payments` and `payment_refunds`
//! tables of migration 0007. Updates are compare-and-set on `version`.

use seam_core::ErrorKind;
use seam_domain::{Currency, Money, OrderId};
use seam_repository::{
    Error, OrderPayment, PaymentRefundRecord, Result, check_order_payment, check_refund_record,
};
use seam_sql::sqlx::{self, Database, Encode, Executor, IntoArguments, Pool, Type};
use seam_telemetry::PortMetrics;

use crate::dialect::Dialect;
use crate::error::{db, not_updated, violated};
use crate::rows::Columns;
use crate::statements::metrics;

const COLUMNS: &str = "order_id, provider, payment_id, amount_minor, currency, status, \
     amount_refunded_minor, failure_code, attempts, version, updated_at";

fn payment_from_row<R: Columns>(row: &R) -> Result<OrderPayment> {
    let currency = Currency::parse(row.text("currency")?.trim())
        .map_err(|error| R::corrupt("currency", error))?;
    Ok(OrderPayment {
        order_id: OrderId::from_uuid(row.uuid("order_id")?),
        provider: row.text("provider")?,
        payment_id: row.optional_text("payment_id")?,
        amount: Money::new(row.big("amount_minor")?, currency),
        status: row.text("status")?,
        amount_refunded_minor: row.big("amount_refunded_minor")?,
        failure_code: row.optional_text("failure_code")?,
        attempts: row.int("attempts")?,
        version: row.int("version")?,
        updated_at: row.time("updated_at")?,
    })
}

fn refund_from_row<R: Columns>(row: &R) -> Result<PaymentRefundRecord> {
    Ok(PaymentRefundRecord {
        refund_id: row.text("refund_id")?,
        order_id: OrderId::from_uuid(row.uuid("order_id")?),
        amount_minor: row.big("amount_minor")?,
        status: row.text("status")?,
        created_at: row.time("created_at")?,
    })
}

/// The payment statements over one pool of dialect `D`.
pub(crate) struct PaymentStatements<'p, D: Dialect> {
    pool: &'p Pool<D::Db>,
    metrics: PortMetrics,
}

impl<'p, D: Dialect> PaymentStatements<'p, D> {
    pub(crate) fn new(pool: &'p Pool<D::Db>) -> Self {
        Self {
            pool,
            metrics: metrics::<D>(),
        }
    }
}

impl<D> PaymentStatements<'_, D>
where
    D: Dialect,
    for<'c> &'c mut <D::Db as Database>::Connection: Executor<'c, Database = D::Db>,
    <D::Db as Database>::Arguments: IntoArguments<D::Db>,
    <D::Db as Database>::Row: Columns,
    for<'t> &'t str: Encode<'t, D::Db> + Type<D::Db>,
    for<'t> Option<&'t str>: Encode<'t, D::Db> + Type<D::Db>,
    i64: for<'t> Encode<'t, D::Db> + Type<D::Db>,
    i32: for<'t> Encode<'t, D::Db> + Type<D::Db>,
{
    pub(crate) async fn get(&self, order_id: OrderId) -> Result<Option<OrderPayment>> {
        self.metrics
            .call("order_payments.get", async {
                let sql = format!("SELECT {COLUMNS} FROM order_payments WHERE order_id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(D::id(order_id.into_uuid()))
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                row.as_ref().map(payment_from_row).transpose()
            })
            .await
    }

    pub(crate) async fn find_by_payment_id(
        &self,
        payment_id: &str,
    ) -> Result<Option<OrderPayment>> {
        self.metrics
            .call("order_payments.find_by_payment_id", async {
                let sql = format!("SELECT {COLUMNS} FROM order_payments WHERE payment_id = $1");
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(payment_id)
                    .fetch_optional(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                row.as_ref().map(payment_from_row).transpose()
            })
            .await
    }

    fn version(value: i64, order_id: OrderId) -> Result<i32> {
        i32::try_from(value)
            .map_err(|_| Error::conflict("order payment", order_id, "the version is out of range"))
    }

    pub(crate) async fn insert(&self, payment: &OrderPayment) -> Result<OrderPayment> {
        check_order_payment(payment)?;
        let attempts = i32::try_from(payment.attempts)
            .map_err(|_| Error::invalid("attempts", "is out of range"))?;
        let result = self
            .metrics
            .call("order_payments.insert", async {
                let sql = format!(
                    "INSERT INTO order_payments ({COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10) RETURNING {COLUMNS}"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(D::id(payment.order_id.into_uuid()))
                    .bind(payment.provider.as_str())
                    .bind(payment.payment_id.as_deref())
                    .bind(payment.amount.minor())
                    .bind(payment.amount.currency().code())
                    .bind(payment.status.as_str())
                    .bind(payment.amount_refunded_minor)
                    .bind(payment.failure_code.as_deref())
                    .bind(attempts)
                    .bind(D::time(payment.updated_at))
                    .fetch_one(self.pool)
                    .await;
                match row {
                    Ok(row) => payment_from_row(&row).map(Ok),
                    Err(error) => Ok(Err(error)),
                }
            })
            .await?;
        match result {
            Ok(stored) => Ok(stored),
            Err(error) => match violated(&error) {
                // The primary key (the order has a record) or the payment id (another
                // order's): tell them apart by looking.
                Some(ErrorKind::AlreadyExists) => {
                    if self.get(payment.order_id).await?.is_some() {
                        Err(Error::already_exists(
                            "order payment",
                            payment.order_id.to_string(),
                        ))
                    } else {
                        Err(Error::conflict(
                            "order payment",
                            payment.order_id,
                            "the payment id belongs to another order",
                        ))
                    }
                }
                Some(ErrorKind::Conflict) => Err(Error::conflict(
                    "order payment",
                    payment.order_id,
                    "the order does not exist",
                )),
                _ => Err(db(D::ADAPTER, error)),
            },
        }
    }

    pub(crate) async fn update(
        &self,
        payment: &OrderPayment,
        expected_version: i64,
    ) -> Result<OrderPayment> {
        check_order_payment(payment)?;
        let attempts = i32::try_from(payment.attempts)
            .map_err(|_| Error::invalid("attempts", "is out of range"))?;
        let expected = Self::version(expected_version, payment.order_id)?;
        let result = self
            .metrics
            .call("order_payments.update", async {
                let sql = format!(
                    "UPDATE order_payments SET provider = $2, payment_id = $3, amount_minor = $4, \
                     currency = $5, status = $6, amount_refunded_minor = $7, failure_code = $8, \
                     attempts = $9, updated_at = $10, version = version + 1 \
                     WHERE order_id = $1 AND version = $11 RETURNING {COLUMNS}"
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(D::id(payment.order_id.into_uuid()))
                    .bind(payment.provider.as_str())
                    .bind(payment.payment_id.as_deref())
                    .bind(payment.amount.minor())
                    .bind(payment.amount.currency().code())
                    .bind(payment.status.as_str())
                    .bind(payment.amount_refunded_minor)
                    .bind(payment.failure_code.as_deref())
                    .bind(attempts)
                    .bind(D::time(payment.updated_at))
                    .bind(expected)
                    .fetch_optional(self.pool)
                    .await;
                match row {
                    Ok(Some(row)) => payment_from_row(&row).map(|stored| Ok(Some(stored))),
                    Ok(None) => Ok(Ok(None)),
                    Err(error) => Ok(Err(error)),
                }
            })
            .await?;
        match result {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) => {
                let exists = self.get(payment.order_id).await?.is_some();
                Err(not_updated(
                    "order payment",
                    payment.order_id,
                    expected_version,
                    exists,
                ))
            }
            Err(error) => match violated(&error) {
                Some(_) => Err(Error::conflict(
                    "order payment",
                    payment.order_id,
                    "the payment id belongs to another order",
                )),
                None => Err(db(D::ADAPTER, error)),
            },
        }
    }

    pub(crate) async fn record_refund(&self, refund: &PaymentRefundRecord) -> Result<bool> {
        check_refund_record(refund)?;
        self.metrics
            .call("order_payments.record_refund", async {
                let inserted = sqlx::query(
                    "INSERT INTO payment_refunds (refund_id, order_id, amount_minor, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (refund_id) DO NOTHING RETURNING refund_id",
                )
                .bind(refund.refund_id.as_str())
                .bind(D::id(refund.order_id.into_uuid()))
                .bind(refund.amount_minor)
                .bind(refund.status.as_str())
                .bind(D::time(refund.created_at))
                .fetch_optional(self.pool)
                .await
                .map_err(|error| match violated(&error) {
                    Some(ErrorKind::Conflict) => Error::conflict(
                        "order payment",
                        refund.order_id,
                        "the order does not exist",
                    ),
                    _ => db(D::ADAPTER, error),
                })?;
                if inserted.is_some() {
                    return Ok(true);
                }
                sqlx::query("UPDATE payment_refunds SET status = $2 WHERE refund_id = $1")
                    .bind(refund.refund_id.as_str())
                    .bind(refund.status.as_str())
                    .execute(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                Ok(false)
            })
            .await
    }

    pub(crate) async fn refunds(&self, order_id: OrderId) -> Result<Vec<PaymentRefundRecord>> {
        self.metrics
            .call("order_payments.refunds", async {
                let sql = format!(
                    "SELECT refund_id, order_id, amount_minor, status, created_at \
                     FROM payment_refunds WHERE order_id = $1 \
                     ORDER BY created_at, refund_id{collate}",
                    collate = D::COLLATE
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(D::id(order_id.into_uuid()))
                    .fetch_all(self.pool)
                    .await
                    .map_err(|error| db(D::ADAPTER, error))?;
                rows.iter().map(refund_from_row).collect()
            })
            .await
    }
}

/// Implements `OrderPaymentRepository` for a dialect's repositories (a type with a
/// `pool` field of that dialect) through [`PaymentStatements`].
macro_rules! impl_order_payment_repository {
    ($repositories:ty, $dialect:ty) => {
        #[async_trait::async_trait]
        impl seam_repository::OrderPaymentRepository for $repositories {
            async fn get(
                &self,
                order_id: seam_domain::OrderId,
            ) -> seam_repository::Result<Option<seam_repository::OrderPayment>> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .get(order_id)
                    .await
            }

            async fn find_by_payment_id(
                &self,
                payment_id: &str,
            ) -> seam_repository::Result<Option<seam_repository::OrderPayment>> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .find_by_payment_id(payment_id)
                    .await
            }

            async fn insert(
                &self,
                payment: &seam_repository::OrderPayment,
            ) -> seam_repository::Result<seam_repository::OrderPayment> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .insert(payment)
                    .await
            }

            async fn update(
                &self,
                payment: &seam_repository::OrderPayment,
                expected_version: i64,
            ) -> seam_repository::Result<seam_repository::OrderPayment> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .update(payment, expected_version)
                    .await
            }

            async fn record_refund(
                &self,
                refund: &seam_repository::PaymentRefundRecord,
            ) -> seam_repository::Result<bool> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .record_refund(refund)
                    .await
            }

            async fn refunds(
                &self,
                order_id: seam_domain::OrderId,
            ) -> seam_repository::Result<Vec<seam_repository::PaymentRefundRecord>> {
                $crate::payments::PaymentStatements::<$dialect>::new(&self.pool)
                    .refunds(order_id)
                    .await
            }
        }
    };
}

pub(crate) use impl_order_payment_repository;

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use seam_domain::{Currency, EmailAddress, Money, NewUser, Order, OrderId};
    use seam_repository::{OrderPaymentRepository, RepositoryPorts};
    use seam_sql::{Database, SqlConfig};
    use seam_testkit::{TestPostgres, TestSqlite};

    use crate::SqlRepositories;

    async fn order(ports: &RepositoryPorts, eur: Currency) -> OrderId {
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let user = ports
            .users
            .create(
                NewUser::new(
                    EmailAddress::parse(&format!("{unique}@example.com")).unwrap(),
                    "Ada",
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let order = Order::place(OrderId::new(), user.id, eur, Vec::new(), Utc::now()).unwrap();
        let mut tx = ports.unit_of_work.begin().await.unwrap();
        tx.insert_order(&order).await.unwrap();
        tx.commit().await.unwrap();
        order.id
    }

    async fn run(database: &Database) {
        database.migrate_up().await.expect("migrate");
        let repositories = SqlRepositories::new(database).unwrap();
        let ports = repositories.ports();
        let eur = Currency::parse("EUR").unwrap();
        let first = order(&ports, eur).await;
        let second = order(&ports, eur).await;
        let store: &dyn OrderPaymentRepository = match &repositories {
            SqlRepositories::Postgres(pg) => pg,
            SqlRepositories::Sqlite(lite) => lite,
        };
        seam_repository::order_payments_conformance(store, first, second, Money::new(4200, eur))
            .await;
    }

    #[tokio::test]
    async fn order_payments_conform_on_sqlite() {
        let file = TestSqlite::new().await;
        let database = Database::connect(&SqlConfig::new(file.url().to_owned()))
            .await
            .expect("open the test database");
        run(&database).await;
        // Migration 0007 reverts cleanly.
        database.migrate_down(Some(6)).await.expect("revert 0007");
        database.close().await;
        file.cleanup().await;
    }

    #[tokio::test]
    async fn order_payments_conform_on_postgres() {
        let server = TestPostgres::new().await;
        let database = Database::connect(&SqlConfig::new(server.url().to_owned()))
            .await
            .expect("open the test database");
        run(&database).await;
        database.migrate_down(Some(6)).await.expect("revert 0007");
        database.close().await;
        server.cleanup().await;
    }
}
