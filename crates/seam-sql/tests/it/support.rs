//! Fresh databases for each test, and small helpers that run SQL on either backend.

use seam_sql::{Backend, Database, SqlConfig};
use seam_testkit::{TestPostgres, TestSqlite};

/// A connected [`Database`] over an isolated database, removed by [`TestDb::cleanup`]
/// (or, if the test panics, when dropped).
pub(crate) struct TestDb {
    pub(crate) db: Database,
    guard: Guard,
}

enum Guard {
    Postgres(Box<TestPostgres>),
    Sqlite(TestSqlite),
}

impl TestDb {
    pub(crate) async fn postgres() -> Self {
        seam_testkit::init_test_logging();
        let server = TestPostgres::new().await;
        let db = Database::connect(&SqlConfig::new(server.url()))
            .await
            .expect("connect to the test database");
        assert_eq!(db.backend(), Backend::Postgres);
        Self {
            db,
            guard: Guard::Postgres(Box::new(server)),
        }
    }

    pub(crate) async fn sqlite() -> Self {
        seam_testkit::init_test_logging();
        let file = TestSqlite::new().await;
        let db = Database::connect(&SqlConfig::new(file.url()))
            .await
            .expect("open the test database");
        assert_eq!(db.backend(), Backend::Sqlite);
        Self {
            db,
            guard: Guard::Sqlite(file),
        }
    }

    pub(crate) async fn cleanup(self) {
        self.db.close().await;
        match self.guard {
            Guard::Postgres(server) => server.cleanup().await,
            Guard::Sqlite(file) => file.cleanup().await,
        }
    }
}

/// Generates `mod $scenario { postgres, sqlite }`: one test per backend, each running
/// `async fn $scenario(db: &Database)` on a fresh database.
macro_rules! on_both_backends {
    ($($scenario:ident),+ $(,)?) => {$(
        mod $scenario {
            #[tokio::test]
            async fn postgres() {
                let test = crate::support::TestDb::postgres().await;
                super::$scenario(&test.db).await;
                test.cleanup().await;
            }

            #[tokio::test]
            async fn sqlite() {
                let test = crate::support::TestDb::sqlite().await;
                super::$scenario(&test.db).await;
                test.cleanup().await;
            }
        }
    )+};
}

/// Runs one statement written in SQL both backends accept.
pub(crate) async fn execute(db: &Database, sql: &'static str) -> Result<u64, seam_sql::Error> {
    let done = match (db.as_postgres(), db.as_sqlite()) {
        (Some(pool), _) => sqlx::query(sql).execute(pool).await?.rows_affected(),
        (_, Some(pool)) => sqlx::query(sql).execute(pool).await?.rows_affected(),
        _ => unreachable!("a database is either backend"),
    };
    Ok(done)
}

/// Reads one integer with SQL both backends accept.
pub(crate) async fn scalar(db: &Database, sql: &'static str) -> i64 {
    match (db.as_postgres(), db.as_sqlite()) {
        (Some(pool), _) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        _ => unreachable!("a database is either backend"),
    }
}

/// Whether a table exists.
pub(crate) async fn table_exists(db: &Database, table: &str) -> bool {
    match (db.as_postgres(), db.as_sqlite()) {
        (Some(pool), _) => sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(table)
            .fetch_one(pool)
            .await
            .unwrap(),
        (_, Some(pool)) => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        )
        .bind(table)
        .fetch_one(pool)
        .await
        .unwrap(),
        _ => unreachable!("a database is either backend"),
    }
}

/// The tables of the schema after every migration.
pub(crate) const SCHEMA_TABLES: [&str; 8] = [
    "users",
    "products",
    "inventory",
    "orders",
    "order_lines",
    "outbox",
    "inbox",
    "idempotency_keys",
];
