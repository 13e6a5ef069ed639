//! The SQL adapter of the repository port ([`seam_repository`]), on PostgreSQL and on
//! SQLite.
//!
//! [`PostgresRepositories`] and [`SqliteRepositories`] each implement every repository
//! trait over one [`seam_sql::Database`] pool; `ports()` hands them out as
//! [`RepositoryPorts`]. [`SqlRepositories::new`] picks the one of the database's
//! backend. The schema is the one of `migrations/postgres` or `migrations/sqlite` (run
//! `Database::migrate_up` first).
//!
//! What differs between the dialects (SQL, how ids, times and JSON are stored, how a
//! transaction takes its locks, how the outbox wakes a relay) lives in the `postgres`
//! and `sqlite` modules; what does not (error conversion, reading rows back into domain
//! values, checking the configuration) is written once beside them.
//!
//! - Errors are classified by [`seam_sql::classify_sqlx_error`] and reported under the
//!   adapter name `postgres` or `sqlite`.
//! - Every call records `seam_port_calls_total{port="repository",adapter,op}` with
//!   `adapter` = `postgres` or `sqlite`.

mod config;
mod dialect;
mod email_events;
mod error;
mod files;
mod identities;
mod payments;
mod postgres;
mod rows;
mod sqlite;
mod statements;
mod webhook_events;

use seam_repository::{RepositoryPorts, Result};
use seam_sql::{Backend, Database};

pub use email_events::{SqlDeliveryEvents, SqlSuppressionList};
pub use postgres::{OUTBOX_CHANNEL, PostgresRepositories, PostgresRepositoryConfig};
pub use sqlite::{SqliteRepositories, SqliteRepositoryConfig};
pub use webhook_events::SqlWebhookEvents;

/// The repositories of whichever backend a database is.
#[derive(Debug, Clone)]
pub enum SqlRepositories {
    /// Over a PostgreSQL pool.
    Postgres(PostgresRepositories),
    /// Over a SQLite pool.
    Sqlite(SqliteRepositories),
}

impl SqlRepositories {
    /// The repositories of the database's backend.
    ///
    /// # Errors
    ///
    /// None today: every [`Backend`] has its repositories. `Result` for symmetry with
    /// the constructors of each backend.
    pub fn new(database: &Database) -> Result<Self> {
        Ok(match database.backend() {
            Backend::Postgres => Self::Postgres(PostgresRepositories::new(database)?),
            Backend::Sqlite => Self::Sqlite(SqliteRepositories::new(database)?),
        })
    }

    /// The backend these repositories run on.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Postgres(_) => Backend::Postgres,
            Self::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Orders' payments and refunds (migration 0007), sharing the pool.
    pub fn order_payments(&self) -> std::sync::Arc<dyn seam_repository::OrderPaymentRepository> {
        match self {
            Self::Postgres(repositories) => std::sync::Arc::new(repositories.clone()),
            Self::Sqlite(repositories) => std::sync::Arc::new(repositories.clone()),
        }
    }

    /// Every port, sharing the pool.
    pub fn ports(&self) -> RepositoryPorts {
        match self {
            Self::Postgres(repositories) => repositories.ports(),
            Self::Sqlite(repositories) => repositories.ports(),
        }
    }
}
