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
use seam_domain::{Order, OrderId, Sku, UserId};
use seam_repository::{
    Error, InventoryRepository, OrderRepository, Page, Product, RepositoryPorts, Result,
    Transaction, UnitOfWork, check_limit, check_offset, check_product, check_stock,
};
use seam_sql::sqlx::postgres::{PgListener, PgPool};
use seam_sql::sqlx::{self, Postgres, QueryBuilder};
use seam_sql::{Backend, Database, SqlConfig};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};

use self::rows::fetch_orders;
use crate::rows::{self as shared, product_from_row};

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

    fn now() -> Self::Time {
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
    }
}

const METRICS: PortMetrics = PortMetrics::new("repository", ADAPTER);

/// How to build [`PostgresRepositories`]: the database to connect to.
///
/// Deserialises from the `[database]` section, as [`SqlConfig`] does.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PostgresRepositoryConfig {
    /// The connection settings; the URL must be `postgres://…`.
    pub database: SqlConfig,
}

impl PostgresRepositoryConfig {
    /// Checks the settings, naming each problem's key.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for invalid settings or a URL that is not PostgreSQL.
    pub fn validate(&self) -> Result<()> {
        crate::config::validate(&self.database, Backend::Postgres)
    }

    /// Validates, connects, and returns the repositories.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] as [`validate`](Self::validate); [`Error::Unavailable`] when the
    /// server cannot be reached.
    pub async fn build(self) -> Result<PostgresRepositories> {
        self.validate()?;
        let database = crate::config::connect(&self.database, ADAPTER).await?;
        PostgresRepositories::new(&database)
    }
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

const PRODUCT_COLUMNS: &str = "SELECT p.sku, p.name, p.price_minor, p.currency, \
     CAST(COALESCE(i.on_hand, 0) AS BIGINT) AS on_hand \
     FROM products p LEFT JOIN inventory i ON i.sku = p.sku";

crate::statements::impl_user_repository!(PostgresRepositories, PgDialect);

#[async_trait]
impl InventoryRepository for PostgresRepositories {
    async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
        METRICS
            .call("inventory.product", async {
                let mut query: QueryBuilder<Postgres> = QueryBuilder::new(PRODUCT_COLUMNS);
                query
                    .push(" WHERE p.sku = ")
                    .push_bind(sku.as_str().to_owned());
                let row = query.build().fetch_optional(&self.pool).await.map_err(db)?;
                row.as_ref().map(product_from_row).transpose()
            })
            .await
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
        METRICS
            .call("inventory.products", async {
                if skus.is_empty() {
                    return Ok(Vec::new());
                }
                let wanted: Vec<String> = skus.iter().map(|sku| sku.as_str().to_owned()).collect();
                let mut query: QueryBuilder<Postgres> = QueryBuilder::new(PRODUCT_COLUMNS);
                query
                    .push(" WHERE p.sku = ANY(")
                    .push_bind(wanted)
                    .push(")");
                let rows = query.build().fetch_all(&self.pool).await.map_err(db)?;
                let found = rows
                    .iter()
                    .map(product_from_row)
                    .collect::<Result<Vec<Product>>>()?;
                Ok(shared::in_requested_order(skus, found))
            })
            .await
    }

    async fn stock(&self, sku: &Sku) -> Result<i64> {
        METRICS
            .call("inventory.stock", async {
                sqlx::query_scalar::<_, i64>(
                    "SELECT CAST(COALESCE(i.on_hand, 0) AS BIGINT) \
                     FROM products p LEFT JOIN inventory i ON i.sku = p.sku WHERE p.sku = $1",
                )
                .bind(sku.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?
                .ok_or_else(|| Error::not_found("product", sku))
            })
            .await
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
impl OrderRepository for PostgresRepositories {
    async fn get(&self, id: OrderId) -> Result<Option<Order>> {
        METRICS
            .call("orders.get", async {
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let mut query: QueryBuilder<Postgres> = QueryBuilder::new(shared::ORDER_COLUMNS);
                query.push(" WHERE id = ").push_bind(id.into_uuid());
                let orders = fetch_orders(&mut conn, query).await?;
                Ok(orders.into_iter().next())
            })
            .await
    }

    async fn list_by_customer(
        &self,
        customer_id: UserId,
        limit: u32,
        offset: u64,
    ) -> Result<Page<Order>> {
        METRICS
            .call("orders.list_by_customer", async {
                check_limit(limit)?;
                check_offset(offset)?;
                let mut conn = self.pool.acquire().await.map_err(db)?;
                let total: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE customer_id = $1")
                        .bind(customer_id.into_uuid())
                        .fetch_one(&mut *conn)
                        .await
                        .map_err(db)?;
                let mut query: QueryBuilder<Postgres> = QueryBuilder::new(shared::ORDER_COLUMNS);
                query
                    .push(" WHERE customer_id = ")
                    .push_bind(customer_id.into_uuid())
                    .push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::from(limit))
                    .push(" OFFSET ")
                    .push_bind(offset as i64);
                let items = fetch_orders(&mut conn, query).await?;
                Ok(Page {
                    items,
                    total: total as u64,
                    limit,
                    offset,
                })
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
