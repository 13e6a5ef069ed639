//! SQL connection pools, embedded reversible migrations and seed data for PostgreSQL and SQLite.
//!
//! One [`Database`] over either backend, picked from the scheme of [`SqlConfig::url`]:
//!
//! ```no_run
//! # async fn example() -> Result<(), seam_sql::Error> {
//! use seam_sql::{Database, SqlConfig};
//!
//! let config = SqlConfig::new("postgres://postgres@127.0.0.1:5432/seam");
//! tracing::info!(db.url = %config.redacted_url(), "connecting");
//! let db = Database::connect(&config).await?;
//! let applied = db.migrate_up().await?; // [] when already up to date
//! let summary = db.seed().await?;       // idempotent demo data
//! db.close().await;
//! # Ok(()) }
//! ```
//!
//! - Configuration: [`SqlConfig`] (serde, defaults to a SQLite file under `data/`),
//!   validated with messages that name the key, and loggable through
//!   [`SqlConfig::redacted_url`].
//! - Migrations ([`Database::migrate_up`], [`Database::migrate_down`],
//!   [`Database::migration_status`]): the files in `migrations/postgres/` and
//!   `migrations/sqlite/`, compiled in; history in `_sqlx_migrations`.
//! - Demo data: [`Database::seed`].
//! - Health: [`Database`] implements [`seam_core::HealthCheck`] as `"database"`.
//! - Errors: [`Error`] implements [`seam_core::Classify`]; [`classify_sqlx_error`] is the
//!   one mapping from driver errors (SQLSTATEs, SQLite codes, I/O) to
//!   [`seam_core::ErrorKind`], for every crate that talks SQL through sqlx.

mod config;
mod database;
mod error;
mod migrate;
mod seed;

pub use config::{Backend, DEFAULT_URL, SqlConfig, redact_url};
pub use database::{Database, Pool};
pub use error::{Error, Result, classify_sqlite_code, classify_sqlstate, classify_sqlx_error};
pub use migrate::{MIGRATIONS_TABLE, MigrationStatus, known_versions, migrator};
pub use seed::{
    DEMO_CUSTOMER_EMAIL, DEMO_CUSTOMER_ID, DEMO_CUSTOMER_NAME, DEMO_PRODUCTS, DemoProduct,
    SeedCount, SeedSummary,
};

/// The sqlx version this crate is built on, re-exported so that callers use the same one.
pub use sqlx;
