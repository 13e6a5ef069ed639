//! The SQLite dialect. The schema is the one of `migrations/sqlite`: STRICT tables, ids
//! as hyphenated UUID text, times as RFC 3339 text with six fractional digits, JSON as
//! text.
//!
//! - Transactions start with `BEGIN IMMEDIATE`: they take the write lock up front, so
//!   concurrent writers queue (for up to the pool's busy timeout) instead of failing
//!   with `SQLITE_BUSY` half-way through. Stock is taken with a guarded
//!   `UPDATE ... WHERE on_hand >= ?` inside a savepoint rolled back on shortage.
//! - The outbox: SQLite has no notifications, so [`OutboxStore::wait_for_work`](seam_repository::OutboxStore::wait_for_work) is woken
//!   by commits made through this adapter (clones share the signal) and otherwise
//!   polls when `max_wait` runs out. A single `UPDATE ... RETURNING` claims rows; SQLite
//!   runs one writer at a time, so two claimers never get the same row.
//! - A busy database that stays busy is `Transient`.
//! - Every call records `seam_port_calls_total{port="repository",adapter="sqlite",op}`.

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
use seam_sql::sqlx::sqlite::SqlitePool;
use seam_sql::sqlx::{self, Sqlite};
use seam_sql::{Backend, Database};
use seam_telemetry::PortMetrics;
use tokio::sync::Notify;

use self::rows::{id_text, now};
use crate::statements::Statements;

/// This adapter's name, in errors and metrics.
const ADAPTER: &str = "sqlite";

fn db(error: sqlx::Error) -> Error {
    crate::error::db(ADAPTER, error)
}

/// SQLite to the code both dialects share.
#[derive(Debug)]
struct SqliteDialect;

impl crate::dialect::Dialect for SqliteDialect {
    type Db = Sqlite;
    type Id = String;
    type Time = String;

    const ADAPTER: &'static str = ADAPTER;
    const FIND: &'static str = "instr";
    const GREATEST: &'static str = "max";
    // Text compares byte by byte (BINARY collation), as in every adapter; times compare
    // correctly as text in their fixed stored format.
    const COLLATE: &'static str = "";

    fn id(id: uuid::Uuid) -> Self::Id {
        id_text(id)
    }

    fn time(time: chrono::DateTime<chrono::Utc>) -> Self::Time {
        rows::time_text(time)
    }

    fn push_now(query: &mut sqlx::QueryBuilder<Sqlite>) {
        query.push_bind(now().1);
    }

    fn push_json(query: &mut sqlx::QueryBuilder<Sqlite>, json: String) {
        query.push_bind(json);
    }
}

const METRICS: PortMetrics = PortMetrics::new("repository", ADAPTER);

crate::config::repository_config! {
    /// How to build [`SqliteRepositories`]: the database file to open.
    ///
    /// Deserialises from the `[database]` section, as [`SqlConfig`](seam_sql::SqlConfig)
    /// does; the default is [`seam_sql::DEFAULT_URL`], a file under `data/`.
    #[derive(Default)]
    pub struct SqliteRepositoryConfig for SqliteRepositories on Backend::Sqlite;
    url: "sqlite:"
}

/// Every repository trait over one SQLite pool. Cheap to clone: clones share the pool
/// and the outbox signal.
#[derive(Debug, Clone)]
pub struct SqliteRepositories {
    pool: SqlitePool,
    outbox_added: Arc<Notify>,
}

impl SqliteRepositories {
    /// The repositories over an open database.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the database is not SQLite.
    pub fn new(database: &Database) -> Result<Self> {
        let pool = database
            .as_sqlite()
            .ok_or_else(|| crate::config::wrong_backend(Backend::Sqlite, database))?;
        Ok(Self::from_pool(pool.clone()))
    }

    /// The repositories over an existing pool (opened with `foreign_keys=ON`).
    pub fn from_pool(pool: SqlitePool) -> Self {
        Self {
            pool,
            outbox_added: Arc::new(Notify::new()),
        }
    }

    /// Every port, sharing this pool.
    pub fn ports(&self) -> RepositoryPorts {
        RepositoryPorts::from_shared(Arc::new(self.clone()))
    }

    /// The pool.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

crate::statements::impl_user_repository!(SqliteRepositories, SqliteDialect);
crate::statements::impl_order_repository!(SqliteRepositories, SqliteDialect);
crate::files::impl_file_repository!(SqliteRepositories, SqliteDialect);
crate::identities::impl_identity_repository!(SqliteRepositories, SqliteDialect);
crate::payments::impl_order_payment_repository!(SqliteRepositories, SqliteDialect);

#[async_trait]
impl InventoryRepository for SqliteRepositories {
    async fn product(&self, sku: &Sku) -> Result<Option<Product>> {
        Statements::<SqliteDialect>::new(&self.pool)
            .product(sku)
            .await
    }

    async fn products(&self, skus: &[Sku]) -> Result<Vec<Product>> {
        Statements::<SqliteDialect>::new(&self.pool)
            .products(skus)
            .await
    }

    async fn stock(&self, sku: &Sku) -> Result<i64> {
        Statements::<SqliteDialect>::new(&self.pool)
            .stock(sku)
            .await
    }

    async fn set_stock(&self, sku: &Sku, on_hand: i64) -> Result<()> {
        METRICS
            .call("inventory.set_stock", async {
                check_stock(on_hand)?;
                let (_, at) = now();
                let done = sqlx::query(
                    "INSERT INTO inventory (sku, on_hand, updated_at) \
                     SELECT sku, ?2, ?3 FROM products WHERE sku = ?1 \
                     ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, \
                     updated_at = excluded.updated_at",
                )
                .bind(sku.as_str())
                .bind(on_hand)
                .bind(at)
                .execute(&self.pool)
                .await
                .map_err(db)?;
                if done.rows_affected() == 0 {
                    return Err(Error::not_found("product", sku));
                }
                Ok(())
            })
            .await
    }

    async fn put_product(&self, product: &Product) -> Result<()> {
        METRICS
            .call("inventory.put_product", async {
                check_product(product)?;
                let (_, at) = now();
                let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
                sqlx::query(
                    "INSERT INTO products (sku, name, price_minor, currency, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (sku) DO UPDATE SET name = excluded.name, \
                     price_minor = excluded.price_minor, currency = excluded.currency",
                )
                .bind(product.sku.as_str())
                .bind(&product.name)
                .bind(product.unit_price.minor())
                .bind(product.unit_price.currency().code())
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                sqlx::query(
                    "INSERT INTO inventory (sku, on_hand, updated_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (sku) DO UPDATE SET on_hand = excluded.on_hand, \
                     updated_at = excluded.updated_at",
                )
                .bind(product.sku.as_str())
                .bind(product.on_hand)
                .bind(&at)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
                tx.commit().await.map_err(db)
            })
            .await
    }
}

#[async_trait]
impl UnitOfWork for SqliteRepositories {
    async fn begin(&self) -> Result<Box<dyn Transaction>> {
        METRICS
            .call("unit_of_work.begin", async {
                // IMMEDIATE: take the write lock now, waiting for other writers, rather
                // than fail with SQLITE_BUSY at the first write.
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(db)?;
                Ok(Box::new(transaction::SqliteTransaction::new(
                    tx,
                    self.outbox_added.clone(),
                )) as Box<dyn Transaction>)
            })
            .await
    }
}
