//! A throw-away Postgres database per benchmark: created, migrated and seeded, then
//! dropped at the end (even when the benchmark failed).

use anyhow::Context;
use seam_sql::sqlx::{self, Connection, PgConnection};
use seam_sql::{Database, SqlConfig};

/// The server's maintenance database, where `CREATE DATABASE` runs.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL: `SEAM_BENCH_POSTGRES_URL`, or the local server.
fn admin_url() -> String {
    std::env::var("SEAM_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// A fresh database `seam_bench_<uuid>`, migrated and seeded with the demo data.
#[derive(Debug)]
pub(crate) struct BenchDatabase {
    name: String,
    url: String,
    /// The connected database (pool of the default size).
    pub(crate) database: Database,
}

impl BenchDatabase {
    /// Creates, migrates and seeds a new database.
    pub(crate) async fn create() -> anyhow::Result<Self> {
        let admin = admin_url();
        let name = format!("seam_bench_{}", uuid::Uuid::now_v7().simple());
        let mut connection = PgConnection::connect(&admin)
            .await
            .with_context(|| format!("connecting to Postgres at {admin} (is it running?)"))?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut connection)
            .await
            .with_context(|| format!("creating database {name}"))?;
        connection.close().await.ok();
        let (server, _) = admin
            .rsplit_once('/')
            .context("the Postgres URL has no database part")?;
        let url = format!("{server}/{name}");
        let created = Self {
            database: match Self::prepare(&url).await {
                Ok(database) => database,
                Err(error) => {
                    drop_database(&name).await;
                    return Err(error);
                }
            },
            name,
            url,
        };
        Ok(created)
    }

    async fn prepare(url: &str) -> anyhow::Result<Database> {
        let database = Database::connect(&SqlConfig::new(url))
            .await
            .context("connecting to the benchmark database")?;
        database.migrate_up().await.context("migrating")?;
        database.seed().await.context("seeding")?;
        Ok(database)
    }

    /// Its URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool and drops the database.
    pub(crate) async fn drop(self) {
        self.database.close().await;
        drop_database(&self.name).await;
    }
}

async fn drop_database(name: &str) {
    let dropped = async {
        let mut connection = PgConnection::connect(&admin_url()).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut connection)
        .await?;
        connection.close().await
    }
    .await;
    if let Err(error) = dropped {
        eprintln!("warning: could not drop database {name}: {error}");
    }
}
