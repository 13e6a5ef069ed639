//! The PostgreSQL dialect.
//!
//! - Transactions own a `sqlx::Transaction<'static, Postgres>` at READ COMMITTED.
//!   Stock is taken with a guarded `UPDATE ... WHERE on_hand >= $q` in SKU order (so
//!   concurrent reservations neither oversell nor deadlock), inside a savepoint that is
//!   rolled back on shortage.
//! - The outbox: every insert also calls `pg_notify('seam_outbox', id)`, delivered on
//!   commit; [`OutboxStore::wait_for_work`](seam_repository::OutboxStore::wait_for_work) listens on that channel with a
//!   [`PgListener`]. Claims lease rows with `FOR UPDATE SKIP LOCKED`, so several relays
//!   never claim the same row.
//! - A lost connection is `Unavailable`, a deadlock or serialization failure `Transient`.
//! - Every call records `seam_port_calls_total{port="repository",adapter="postgres",op}`.

mod outbox;
mod rows;
mod transaction;

use std::sync::Arc;

use async_trait::async_trait;
use seam_domain::Sku;
use seam_repository::{
    Error, InventoryRepository, Product, RepositoryPorts, Result, Transaction, UnitOfWork,
    check_product, check_stock,
};
use seam_sql::sqlx::postgres::{PgListener, PgPool};
use seam_sql::sqlx::{self, Postgres};
use seam_sql::{Backend, Database};
use seam_telemetry::PortMetrics;

use crate::statements::Statements;

/// This adapter's name, in errors and metrics.
const ADAPTER: &str = "postgres";

/// The channel every outbox insert notifies, with the message id as payload.
pub const OUTBOX_CHANNEL: &str = "seam_outbox";

fn db(error: sqlx::Error) -> Error {
    crate::error::db(ADAPTER, error)
}

/// PostgreSQL to the code both dialects share.
#[derive(Debug)]
struct PgDialect;

impl crate::dialect::Dialect for PgDialect {
    type Db = Postgres;
    type Id = uuid::Uuid;
    type Time = chrono::DateTime<chrono::Utc>;

    const ADAPTER: &'static str = ADAPTER;
    const FIND: &'static str = "strpos";
    const GREATEST: &'static str = "GREATEST";
    // Byte order ("C" collation), the same on every server and in every adapter.
    const COLLATE: &'static str = " COLLATE \"C\"";

    fn id(id: uuid::Uuid) -> Self::Id {
        id
    }

    fn time(time: chrono::DateTime<chrono::Utc>) -> Self::Time {
        chrono::SubsecRound::trunc_subsecs(time, 6)
    }

    fn push_now(query: &mut sqlx::QueryBuilder<Postgres>) {
        query.push("now()");
    }

    fn push_json(query: &mut sqlx::QueryBuilder<Postgres>, json: String) {
        query.push("CAST(").push_bind(json).push(" AS jsonb)");
    }
}

const METRICS: PortMetrics = PortMetrics::new("repository", ADAPTER);

crate::config::repository_config! {
    /// How to build [`PostgresRepositories`]: the database to connect to.
    ///
    /// Deserialises from the `[database]` section, as [`SqlConfig`](seam_sql::SqlConfig)
    /// does.
    pub struct PostgresRepositoryConfig for PostgresRepositories on Backend::Postgres;
    url: "postgres://"
}

/// Every repository trait over one PostgreSQL pool. Cheap to clone: clones share the
/// pool and the outbox listener.
#[derive(Debug, Clone)]
pub struct PostgresRepositories {
    pool: PgPool,
    listener: Arc<tokio::sync::Mutex<Option<PgListener>>>,
}

impl PostgresRepositories {
    /// The repositories over a connected database.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the database is not PostgreSQL.
    pub fn new(database: &Database) -> Result<Self> {
        let pool = database
            .as_postgres()
            .ok_or_else(|| crate::config::wrong_backend(Backend::Postgres, database))?;
        Ok(Self::from_pool(pool.clone()))
    }

    /// The repositories over an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            listener: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// Every port, sharing this pool.
    pub fn ports(&self) -> RepositoryPorts {
        RepositoryPorts::from_shared(Arc::new(self.clone()))
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

crate::statements::impl_user_repository!(PostgresRepositories, PgDialect);
crate::statements::impl_order_repository!(PostgresRepositories, PgDialect);
crate::files::impl_file_repository!(PostgresRepositories, PgDialect);
crate::identities::impl_identity_repository!(PostgresRepositories, PgDialect);
crate::payments::impl_order_payment_repository!(PostgresRepositories, PgDialect);

#[async_trait]
impl InventoryRepository for PostgresRepositories {
    async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
        Statements::<PgDialect>::new(&self.pool).product(sku).await
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
        Statements::<PgDialect>::new(&self.pool)
            .products(skus)
            .await
    }

    async fn stock(&self, sku: &Sku) -> Result<i64> {
        Statements::<PgDialect>::new(&self.pool).stock(sku).await
    }

    async fn set_stock(&self, sku: &Sku, on_hand: i64) -> Result<()> {
        METRICS
            .call("inventory.set_stock", async {
                check_stock(on_hand)?;
                let on_hand = i32::try_from(on_hand).map_err(|_| Error::invalid("on_hand", "too large"))?;
                sqlx::query(
                    "INSERT INTO inventory (sku, on_hand, updated_at) \
                     SELECT sku, $2, now() FROM products WHERE sku = $1 \
                     ON CONFLICT (sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = now()",
                )
                .bind(sku.as_str())
                .bind(on_hand)
                .execute(&self.pool)
                .await
                .map_err(db)
                .and_then(|done| {
                    if done.rows_affected() == 0 {
                        Err(Error::not_found("product", sku))
                    } else {
                        Ok(())
                    }
                })
            })
            .await
    }

    async fn put_product(&self, product: &Product) -> Result<()> {
        METRICS
            .call("inventory.put_product", async {
                check_product(product)?;
                let on_hand = i32::try_from(product.on_hand)
                    .map_err(|_| Error::invalid("on_hand", "too large"))?;
                let mut tx = self.pool.begin().await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO products (sku, name, price_minor, currency) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, \
                     price_minor = EXCLUDED.price_minor, currency = EXCLUDED.currency",
                )
                .bind(product.sku.as_str())
                .bind(&product.name)
                .bind(product.unit_price.minor())
                .bind(product.unit_price.currency().code())
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "INSERT INTO inventory (sku, on_hand, updated_at) VALUES ($1, $2, now()) \
                     ON CONFLICT (sku) DO UPDATE SET on_hand = EXCLUDED.on_hand, updated_at = now()",
                )
                .bind(product.sku.as_str())
                .bind(on_hand)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)
            })
            .await
    }
}

#[async_trait]
impl UnitOfWork for PostgresRepositories {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        METRICS
            .call("unit_of_work.begin", async {
                let tx = self.pool.begin().await.map_err(db)?;
                Ok(Box::new(transaction::PostgresTransaction::new(tx)) as Box<dyn Transaction>)
            })
            .await
    }
}
