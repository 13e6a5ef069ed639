//! The connection pool over either backend, and its health check.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use seam_core::{Classify, Health, HealthCheck};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use crate::config::{Backend, SqlConfig};
use crate::error::{Error, Result};

/// A connection pool to PostgreSQL or SQLite, picked from the configured URL.
///
/// Cheap to clone: clones share the pool. Repositories that need backend-specific SQL
/// match on [`Database::as_postgres`] / [`Database::as_sqlite`] (or [`Database::pool`]).
///
/// SQLite databases are opened in WAL journal mode with `foreign_keys=ON`, the configured
/// busy timeout, and created (with their folder) when missing.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    target: String,
}

/// The pool of one backend.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pool {
    /// A PostgreSQL pool.
    Postgres(PgPool),
    /// A SQLite pool.
    Sqlite(SqlitePool),
}

impl Database {
    /// Validates the configuration and connects, failing early when the database cannot be
    /// reached.
    ///
    /// A refused connection is retried (the server may be starting) until
    /// [`SqlConfig::acquire_timeout`] has passed.
    ///
    /// # Errors
    ///
    /// - [`Error::Config`] (`Invalid`) when the configuration is wrong;
    /// - [`Error::CreateDir`] (`Unavailable`) when a SQLite file's folder cannot be created;
    /// - [`Error::Connect`] (`Unavailable`, or `Unauthorized` for rejected credentials)
    ///   when no connection could be made.
    #[tracing::instrument(skip_all, fields(db.url = %config.redacted_url()))]
    pub async fn connect(config: &SqlConfig) -> Result<Self> {
        config.validate()?;
        let backend = config.backend()?;
        let target = config.redacted_url();
        let connect_error = |source| Error::Connect {
            backend,
            target: target.clone(),
            waited: config.acquire_timeout,
            source,
        };
        let pool = match backend {
            Backend::Postgres => {
                let options = config.postgres_options().map_err(Error::config)?;
                let connected = PgPoolOptions::new()
                    .max_connections(config.max_connections)
                    .min_connections(config.min_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect_with(options.clone())
                    .await;
                match connected {
                    Ok(pool) => Pool::Postgres(pool),
                    // The pool retried a refused connection until the deadline and only says
                    // it timed out; one more direct attempt tells the operator why.
                    Err(sqlx::Error::PoolTimedOut) => {
                        return Err(connect_error(last_connect_error(&options).await));
                    }
                    Err(error) => return Err(connect_error(error)),
                }
            }
            Backend::Sqlite => {
                let mut options = config
                    .sqlite_options()
                    .map_err(Error::config)?
                    .journal_mode(SqliteJournalMode::Wal)
                    .foreign_keys(true)
                    .busy_timeout(config.sqlite_busy_timeout);
                if !config.sqlite_read_only() {
                    options = options.create_if_missing(true);
                    if !config.sqlite_in_memory() {
                        create_parent_dir(options.get_filename()).await?;
                    }
                }
                let pool = SqlitePoolOptions::new()
                    .max_connections(config.max_connections)
                    .min_connections(config.min_connections)
                    .acquire_timeout(config.acquire_timeout)
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?;
                Pool::Sqlite(pool)
            }
        };
        tracing::debug!(db.backend = %backend, "connected to the database");
        Ok(Self { pool, target })
    }

    /// Wraps an existing Postgres pool (for tests and tools that built their own).
    pub fn from_postgres(pool: PgPool) -> Self {
        let options = pool.connect_options();
        let target = format!(
            "postgres://{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options
                .get_database()
                .unwrap_or_else(|| options.get_username())
        );
        Self {
            pool: Pool::Postgres(pool),
            target,
        }
    }

    /// Wraps an existing SQLite pool (for tests and tools that built their own).
    pub fn from_sqlite(pool: SqlitePool) -> Self {
        let target = format!(
            "sqlite://{}",
            pool.connect_options().get_filename().display()
        );
        Self {
            pool: Pool::Sqlite(pool),
            target,
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match &self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// The pool, to match on.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The Postgres pool, if this is Postgres.
    pub fn as_postgres(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::Sqlite(_) => None,
        }
    }

    /// The SQLite pool, if this is SQLite.
    pub fn as_sqlite(&self) -> Option<&SqlitePool> {
        match &self.pool {
            Pool::Sqlite(pool) => Some(pool),
            Pool::Postgres(_) => None,
        }
    }

    /// Where this database is, without credentials: safe to log.
    pub fn redacted_url(&self) -> &str {
        &self.target
    }

    /// Runs `SELECT 1`.
    ///
    /// # Errors
    ///
    /// [`Error::Query`], classified by [`crate::classify_sqlx_error`] (`Unavailable` when
    /// the server is down or the pool is exhausted).
    pub async fn ping(&self) -> Result<()> {
        match &self.pool {
            Pool::Postgres(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Pool::Sqlite(pool) => {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
        }
        Ok(())
    }

    /// Closes every connection, waiting for those in use to be returned.
    ///
    /// Afterwards every operation fails with `Unavailable` (pool closed).
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pool) => pool.close().await,
        }
    }

    /// Whether [`Database::close`] has been called.
    pub fn is_closed(&self) -> bool {
        match &self.pool {
            Pool::Postgres(pool) => pool.is_closed(),
            Pool::Sqlite(pool) => pool.is_closed(),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend())
            .field("url", &self.target)
            .finish_non_exhaustive()
    }
}

/// `"database"`: `SELECT 1` answers (up) or not (down, with the error kind and message).
#[async_trait]
impl HealthCheck for Database {
    fn name(&self) -> &str {
        "database"
    }

    async fn check(&self) -> Health {
        match self.ping().await {
            Ok(()) => Health::up(),
            // Driver messages carry no URL or password, so they are safe to show.
            Err(error) => Health::down(format!("{}: {error}", error.kind())),
        }
    }
}

/// Why a Postgres connection cannot be made right now, or `PoolTimedOut` if it can.
async fn last_connect_error(options: &sqlx::postgres::PgConnectOptions) -> sqlx::Error {
    use sqlx::ConnectOptions;
    match tokio::time::timeout(Duration::from_secs(2), options.connect()).await {
        Ok(Err(error)) => error,
        Ok(Ok(_)) | Err(_) => sqlx::Error::PoolTimedOut,
    }
}

async fn create_parent_dir(file: &Path) -> Result<()> {
    let Some(parent) = file
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    else {
        return Ok(());
    };
    tokio::fs::create_dir_all(parent)
        .await
        .map_err(|source| Error::CreateDir {
            path: parent.to_path_buf(),
            source,
        })
}
