//! Embedded, reversible schema migrations: apply, revert, and report what is applied.
//!
//! The migrations live in `migrations/postgres/` and `migrations/sqlite/` at the root of
//! the workspace, as sqlx reversible pairs (`<version>_<name>.up.sql` and `.down.sql`), and
//! are compiled into this crate. The history is sqlx's `_sqlx_migrations` table, so the
//! `sqlx` CLI reads it too.
//!
//! Applying and reverting hold a lock for the whole run (a Postgres advisory lock keyed
//! by the database name), so two instances starting together do not both migrate. Each
//! migration runs in its own transaction with its bookkeeping row.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::migrate::{AppliedMigration, Migrate, MigrateError, Migration, Migrator};

use crate::config::Backend;
use crate::database::{Database, Pool};
use crate::error::{Error, Result};

/// The table that records applied migrations (sqlx's default).
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

static POSTGRES: Migrator = sqlx::migrate!("../../migrations/postgres");
static SQLITE: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// The migrations compiled into this build for a backend.
pub fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Postgres => &POSTGRES,
        Backend::Sqlite => &SQLITE,
    }
}

/// The versions of the migrations compiled into this build for a backend, oldest first.
pub fn known_versions(backend: Backend) -> Vec<i64> {
    up_migrations(migrator(backend))
        .map(|migration| migration.version)
        .collect()
}

/// One migration and whether it is applied to the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MigrationStatus {
    /// The version, from the file name (`0002_products_inventory.up.sql` is 2).
    pub version: i64,
    /// The description, from the file name (`products inventory`); for a migration this
    /// build does not know, the one recorded when it was applied.
    pub description: String,
    /// Whether it is applied.
    pub applied: bool,
    /// When it was applied.
    pub applied_at: Option<DateTime<Utc>>,
    /// `false` when it is applied but its file has changed since (or it is unknown to this
    /// build); `true` otherwise, including for pending migrations.
    pub checksum_ok: bool,
    /// Whether this build has the migration. `false` means the database was migrated by a
    /// newer release.
    pub known: bool,
}

#[derive(Clone, Copy)]
enum Operation {
    Up,
    /// Revert the applied migrations newer than this version.
    Down(i64),
}

impl Database {
    /// Applies every pending migration, oldest first, and returns the versions it applied
    /// (empty when the schema was up to date: running it twice is a no-op).
    ///
    /// # Errors
    ///
    /// - [`Error::ChecksumMismatch`] when an applied migration's file was edited;
    /// - [`Error::UnknownAppliedMigration`] when the database was migrated by a newer release;
    /// - [`Error::Migration`] when a migration's SQL fails (it is rolled back, and the
    ///   migrations before it stay applied);
    /// - [`Error::Query`] when the database cannot be used.
    #[tracing::instrument(skip_all, fields(db.backend = %self.backend()))]
    pub async fn migrate_up(&self) -> Result<Vec<i64>> {
        self.run(Operation::Up).await
    }

    /// Reverts the applied migrations newer than `to`, newest first (all of them when `to`
    /// is `None` or `Some(0)`), and returns the versions it reverted.
    ///
    /// # Errors
    ///
    /// - [`Error::UnknownVersion`] when `to` is not a known version (nothing is reverted);
    /// - [`Error::ChecksumMismatch`], [`Error::UnknownAppliedMigration`] as for
    ///   [`Database::migrate_up`]: a down script is only trusted when its up script is the
    ///   one that was applied;
    /// - [`Error::Irreversible`] when a migration to revert has no down script;
    /// - [`Error::Migration`] when a down script fails (it is rolled back, and the
    ///   migrations reverted before it stay reverted).
    #[tracing::instrument(skip_all, fields(db.backend = %self.backend(), to))]
    pub async fn migrate_down(&self, to: Option<i64>) -> Result<Vec<i64>> {
        let target = to.unwrap_or(0);
        let known = known_versions(self.backend());
        if target != 0 && !known.contains(&target) {
            return Err(Error::UnknownVersion {
                version: target,
                known,
            });
        }
        self.run(Operation::Down(target)).await
    }

    /// Every migration known to this build, with whether and when it was applied, plus any
    /// applied migration this build does not know; sorted by version.
    ///
    /// Reads only: on a database never migrated, every migration shows as pending and no
    /// table is created.
    ///
    /// # Errors
    ///
    /// [`Error::Query`] when the database cannot be read.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let applied = self.applied_rows().await?;
        let migrator = migrator(self.backend());
        let mut statuses: Vec<MigrationStatus> = up_migrations(migrator)
            .map(|migration| {
                let row = applied.get(&migration.version);
                MigrationStatus {
                    version: migration.version,
                    description: migration.description.to_string(),
                    applied: row.is_some(),
                    applied_at: row.map(|row| row.applied_at),
                    checksum_ok: row.is_none_or(|row| *row.checksum == *migration.checksum),
                    known: true,
                }
            })
            .collect();
        for (version, row) in &applied {
            if !statuses.iter().any(|status| status.version == *version) {
                statuses.push(MigrationStatus {
                    version: *version,
                    description: row.description.clone(),
                    applied: true,
                    applied_at: Some(row.applied_at),
                    checksum_ok: false,
                    known: false,
                });
            }
        }
        statuses.sort_by_key(|status| status.version);
        Ok(statuses)
    }

    /// Succeeds when every known migration is applied and unchanged: what a service checks
    /// at start-up when it does not migrate by itself.
    ///
    /// # Errors
    ///
    /// [`Error::PendingMigrations`], [`Error::ChecksumMismatch`],
    /// [`Error::UnknownAppliedMigration`], or [`Error::Query`].
    pub async fn ensure_migrated(&self) -> Result<()> {
        let statuses = self.migration_status().await?;
        if let Some(status) = statuses.iter().find(|status| !status.known) {
            return Err(Error::UnknownAppliedMigration {
                version: status.version,
            });
        }
        if let Some(status) = statuses.iter().find(|status| !status.checksum_ok) {
            return Err(Error::ChecksumMismatch {
                version: status.version,
                description: status.description.clone(),
            });
        }
        let pending: Vec<i64> = statuses
            .iter()
            .filter(|status| !status.applied)
            .map(|status| status.version)
            .collect();
        if pending.is_empty() {
            Ok(())
        } else {
            Err(Error::PendingMigrations { pending })
        }
    }

    async fn run(&self, operation: Operation) -> Result<Vec<i64>> {
        let migrator = migrator(self.backend());
        match self.pool() {
            Pool::Postgres(pool) => run_on_pool(pool, migrator, operation).await,
            Pool::Sqlite(pool) => run_on_pool(pool, migrator, operation).await,
        }
    }

    async fn applied_rows(&self) -> Result<HashMap<i64, AppliedRow>> {
        let rows: Vec<(i64, String, DateTime<Utc>, Vec<u8>)> = match self.pool() {
            Pool::Postgres(pool) => {
                let exists: bool =
                    sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                        .fetch_one(pool)
                        .await?;
                if !exists {
                    return Ok(HashMap::new());
                }
                sqlx::query_as(
                    "SELECT version, description, installed_on, checksum \
                     FROM _sqlx_migrations ORDER BY version",
                )
                .fetch_all(pool)
                .await?
            }
            Pool::Sqlite(pool) => {
                let exists: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master \
                     WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(pool)
                .await?;
                if !exists {
                    return Ok(HashMap::new());
                }
                // SQLite records CURRENT_TIMESTAMP: UTC, without a zone.
                let rows: Vec<(i64, String, NaiveDateTime, Vec<u8>)> = sqlx::query_as(
                    "SELECT version, description, installed_on, checksum \
                     FROM _sqlx_migrations ORDER BY version",
                )
                .fetch_all(pool)
                .await?;
                rows.into_iter()
                    .map(|(version, description, at, checksum)| {
                        (version, description, at.and_utc(), checksum)
                    })
                    .collect()
            }
        };
        Ok(rows
            .into_iter()
            .map(|(version, description, applied_at, checksum)| {
                (
                    version,
                    AppliedRow {
                        description,
                        applied_at,
                        checksum,
                    },
                )
            })
            .collect())
    }
}

struct AppliedRow {
    description: String,
    applied_at: DateTime<Utc>,
    checksum: Vec<u8>,
}

fn up_migrations(migrator: &Migrator) -> impl Iterator<Item = &Migration> {
    migrator
        .iter()
        .filter(|migration| migration.migration_type.is_up_migration())
}

async fn run_on_pool<DB>(
    pool: &sqlx::Pool<DB>,
    migrator: &Migrator,
    operation: Operation,
) -> Result<Vec<i64>>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    let mut conn = pool.acquire().await?;
    let result = run_locked(&mut *conn, migrator, operation).await;
    if result.is_err() {
        // The Postgres migration lock belongs to the session: if the failure also kept it
        // from being released, a pooled connection would hold it and block the next run.
        // Closing the connection always releases it.
        let _ = conn.close().await;
    }
    result
}

async fn run_locked<C>(conn: &mut C, migrator: &Migrator, operation: Operation) -> Result<Vec<i64>>
where
    C: Migrate + Send + ?Sized,
{
    conn.lock().await?;
    let result = match operation {
        Operation::Up => apply_pending(conn, migrator).await,
        Operation::Down(target) => revert_newer_than(conn, migrator, target).await,
    };
    let unlocked = conn.unlock().await;
    let versions = result?;
    unlocked?;
    Ok(versions)
}

/// Reads the history and checks it against this build: nothing dirty, nothing unknown,
/// no applied migration edited.
async fn verified_history<C>(
    conn: &mut C,
    migrator: &Migrator,
) -> Result<HashMap<i64, AppliedMigration>>
where
    C: Migrate + Send + ?Sized,
{
    conn.ensure_migrations_table(MIGRATIONS_TABLE).await?;
    if let Some(version) = conn.dirty_version(MIGRATIONS_TABLE).await? {
        return Err(Error::Dirty { version });
    }
    let applied = conn.list_applied_migrations(MIGRATIONS_TABLE).await?;
    for migration in &applied {
        let Some(known) = up_migrations(migrator).find(|known| known.version == migration.version)
        else {
            return Err(Error::UnknownAppliedMigration {
                version: migration.version,
            });
        };
        if known.checksum != migration.checksum {
            return Err(Error::ChecksumMismatch {
                version: known.version,
                description: known.description.to_string(),
            });
        }
    }
    Ok(applied
        .into_iter()
        .map(|migration| (migration.version, migration))
        .collect())
}

async fn apply_pending<C>(conn: &mut C, migrator: &Migrator) -> Result<Vec<i64>>
where
    C: Migrate + Send + ?Sized,
{
    let applied = verified_history(conn, migrator).await?;
    let mut done = Vec::new();
    for migration in up_migrations(migrator).filter(|m| !applied.contains_key(&m.version)) {
        let started = Instant::now();
        conn.apply(MIGRATIONS_TABLE, migration)
            .await
            .map_err(|error| migration_error(error, migration, "apply"))?;
        tracing::info!(
            migration.version = migration.version,
            migration.description = %migration.description,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "applied migration"
        );
        done.push(migration.version);
    }
    Ok(done)
}

async fn revert_newer_than<C>(conn: &mut C, migrator: &Migrator, target: i64) -> Result<Vec<i64>>
where
    C: Migrate + Send + ?Sized,
{
    let applied = verified_history(conn, migrator).await?;
    let mut versions: Vec<i64> = applied
        .keys()
        .copied()
        .filter(|version| *version > target)
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));

    // Check every down script exists before reverting anything.
    let mut downs = Vec::with_capacity(versions.len());
    for version in &versions {
        let down = migrator.iter().find(|migration| {
            migration.version == *version && migration.migration_type.is_down_migration()
        });
        match down {
            Some(down) => downs.push(down),
            None => {
                let description = up_migrations(migrator)
                    .find(|migration| migration.version == *version)
                    .map(|migration| migration.description.to_string())
                    .unwrap_or_default();
                return Err(Error::Irreversible {
                    version: *version,
                    description,
                });
            }
        }
    }

    let mut done = Vec::with_capacity(downs.len());
    for migration in downs {
        let started = Instant::now();
        conn.revert(MIGRATIONS_TABLE, migration)
            .await
            .map_err(|error| migration_error(error, migration, "revert"))?;
        tracing::info!(
            migration.version = migration.version,
            migration.description = %migration.description,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "reverted migration"
        );
        done.push(migration.version);
    }
    Ok(done)
}

fn migration_error(error: MigrateError, migration: &Migration, action: &'static str) -> Error {
    match error {
        MigrateError::ExecuteMigration(source, _) | MigrateError::Execute(source) => {
            Error::Migration {
                version: migration.version,
                description: migration.description.to_string(),
                action,
                source,
            }
        }
        other => Error::from(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_have_the_same_reversible_versions() {
        let postgres = known_versions(Backend::Postgres);
        assert_eq!(postgres, known_versions(Backend::Sqlite));
        assert_eq!(postgres[..3], [1, 2, 3], "0001 to 0003 come first");
        for backend in [Backend::Postgres, Backend::Sqlite] {
            for version in known_versions(backend) {
                assert!(
                    migrator(backend)
                        .iter()
                        .any(|migration| migration.version == version
                            && migration.migration_type.is_down_migration()),
                    "{backend} migration {version} has no down script"
                );
            }
        }
    }

    #[test]
    fn descriptions_match_across_backends() {
        let describe = |backend| {
            up_migrations(migrator(backend))
                .map(|migration| migration.description.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(describe(Backend::Postgres), describe(Backend::Sqlite));
    }
}
