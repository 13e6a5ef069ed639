//! What can go wrong talking to the database, and what kind of failure each thing is.

use std::path::PathBuf;
use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use sqlx::error::DatabaseError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::SqliteError;

use crate::config::Backend;

/// A `Result` whose error defaults to this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
///
/// Every variant answers [`Classify::kind`]; errors from the driver are classified by
/// [`classify_sqlx_error`]. Messages never contain the database URL or its password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is wrong (bad URL scheme, zero pool size, ...). `Invalid`.
    #[error("invalid database configuration: {message}")]
    Config {
        /// Every problem found, each naming its key.
        message: String,
    },

    /// The first connection could not be made. Classified from the driver error
    /// (`Unavailable` for a refused connection or a timeout).
    #[error(
        "could not connect to the {backend} database at {target} (waited up to {waited:?}): {source}"
    )]
    Connect {
        /// Which backend.
        backend: Backend,
        /// The URL without credentials.
        target: String,
        /// How long connecting was retried.
        waited: Duration,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The folder for a SQLite file could not be created. `Unavailable`.
    #[error("could not create the folder {} for the SQLite database: {source}", path.display())]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A statement failed. Classified by [`classify_sqlx_error`].
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),

    /// An applied migration's file has changed since it was applied. `Internal`.
    #[error(
        "migration {version} ({description}) was applied to this database, but its file has changed \
         since (checksum mismatch). Applied migrations must never be edited: restore the original \
         file and put the change in a new migration. On a disposable database, revert it with the \
         original file (`seam migrate down`) or recreate the database."
    )]
    ChecksumMismatch {
        /// The version of the edited migration.
        version: i64,
        /// Its description.
        description: String,
    },

    /// The database has a migration applied that this build does not know, typically
    /// because a newer release migrated it. `Internal`.
    #[error(
        "the database has migration {version} applied, which this build does not know: it was \
         probably migrated by a newer release. Run that release, or revert the migration with it"
    )]
    UnknownAppliedMigration {
        /// The unknown version.
        version: i64,
    },

    /// A migration failed part-way and left its bookkeeping row marked unsuccessful. `Internal`.
    #[error(
        "migration {version} is partially applied (marked failed in `_sqlx_migrations`): repair the \
         schema by hand, delete that row, then migrate again"
    )]
    Dirty {
        /// The version marked failed.
        version: i64,
    },

    /// A target version for `migrate_down` that is not one of the known migrations. `Invalid`.
    #[error("{version} is not a migration version; known versions are {}, or 0 to revert everything",
        known.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))]
    UnknownVersion {
        /// The version asked for.
        version: i64,
        /// The versions that exist.
        known: Vec<i64>,
    },

    /// An applied migration has no down script, so it cannot be reverted. `Invalid`.
    #[error("migration {version} ({description}) has no down script and cannot be reverted")]
    Irreversible {
        /// Its version.
        version: i64,
        /// Its description.
        description: String,
    },

    /// The SQL of one migration failed; nothing of it was applied (it runs in a transaction).
    /// `Internal`, unless the connection failed (then as [`classify_sqlx_error`] says).
    #[error("migration {version} ({description}) failed to {action}: {source}")]
    Migration {
        /// Its version.
        version: i64,
        /// Its description.
        description: String,
        /// `"apply"` or `"revert"`.
        action: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Migrations are pending, so the operation cannot run on this schema yet. `Invalid`.
    #[error("the database schema is not up to date (pending migrations: {}); run `seam migrate up` first",
        pending.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))]
    PendingMigrations {
        /// The versions not yet applied.
        pending: Vec<i64>,
    },

    /// Another failure of sqlx's migration machinery. `Internal`, unless a database error
    /// inside says otherwise.
    #[error("migration error: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

impl Error {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config {
            message: message.into(),
        }
    }

    /// The underlying driver error, if there is one.
    pub fn sqlx_error(&self) -> Option<&sqlx::Error> {
        match self {
            Self::Connect { source, .. } | Self::Migration { source, .. } | Self::Query(source) => {
                Some(source)
            }
            Self::Migrate(
                sqlx::migrate::MigrateError::Execute(source)
                | sqlx::migrate::MigrateError::ExecuteMigration(source, _),
            ) => Some(source),
            _ => None,
        }
    }

    /// The SQLSTATE (Postgres) or extended result code (SQLite) of the database error
    /// behind this one, if any: `"23505"`, `"2067"`, ...
    pub fn database_code(&self) -> Option<String> {
        match self.sqlx_error()? {
            sqlx::Error::Database(error) => error.code().map(|code| code.into_owned()),
            _ => None,
        }
    }

    /// The name of the violated constraint, when a constraint was violated on Postgres
    /// (SQLite does not report it).
    pub fn constraint(&self) -> Option<&str> {
        match self.sqlx_error()? {
            sqlx::Error::Database(error) => error.constraint(),
            _ => None,
        }
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError as M;
        match error {
            M::Execute(source) => Self::Query(source),
            M::Dirty(version) => Self::Dirty { version },
            M::VersionMissing(version) => Self::UnknownAppliedMigration { version },
            // Our runner checks checksums itself and names the migration; this is the
            // fallback if sqlx reports it first.
            M::VersionMismatch(version) => Self::ChecksumMismatch {
                version,
                description: "description unknown".to_owned(),
            },
            other => Self::Migrate(other),
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Config { .. }
            | Self::UnknownVersion { .. }
            | Self::Irreversible { .. }
            | Self::PendingMigrations { .. } => ErrorKind::Invalid,
            Self::Connect { source, .. } => match classify_sqlx_error(source) {
                // However connecting failed, the database cannot be used right now.
                ErrorKind::Internal | ErrorKind::Transient | ErrorKind::Timeout => {
                    ErrorKind::Unavailable
                }
                other => other,
            },
            Self::CreateDir { .. } => ErrorKind::Unavailable,
            Self::Query(source) => classify_sqlx_error(source),
            Self::ChecksumMismatch { .. }
            | Self::UnknownAppliedMigration { .. }
            | Self::Dirty { .. } => ErrorKind::Internal,
            Self::Migration { source, .. } => retryable_or_internal(classify_sqlx_error(source)),
            Self::Migrate(error) => match error {
                sqlx::migrate::MigrateError::Execute(source)
                | sqlx::migrate::MigrateError::ExecuteMigration(source, _) => {
                    retryable_or_internal(classify_sqlx_error(source))
                }
                _ => ErrorKind::Internal,
            },
        }
    }
}

/// A migration that failed because the database went away may work when tried again;
/// any other failure is a broken migration.
fn retryable_or_internal(kind: ErrorKind) -> ErrorKind {
    if kind.is_retryable() {
        kind
    } else {
        ErrorKind::Internal
    }
}

/// Classifies a sqlx error: the one place where SQLSTATEs and SQLite result codes become
/// [`ErrorKind`]s. Repository and queue adapters built on sqlx call it too.
///
/// | Failure | Kind |
/// |---|---|
/// | connection refused / reset (I/O), TLS, pool timed out or closed, server shutting down (57P01–57P03), too many connections (53xxx), connection exceptions (08xxx), database missing (3D000), SQLite cannot open / I/O / disk full / read-only | `Unavailable` |
/// | unique violation (23505, SQLite 2067/1555) | `AlreadyExists` |
/// | foreign-key violation (23503, SQLite 787), exclusion violation (23P01) | `Conflict` |
/// | check / not-null violation (23514, 23502, SQLite 275/1299/3091), data exceptions (22xxx) | `Invalid` |
/// | serialization failure (40001), deadlock (40P01), lock not available (55P03), SQLite busy/locked/interrupted | `Transient` |
/// | statement timeout / cancelled (57014) | `Timeout` |
/// | bad password or role (28xxx), SQLite auth | `Unauthorized` |
/// | insufficient privilege (42501), SQLite permission | `Forbidden` |
/// | no row where one was expected | `NotFound` |
/// | bad configuration or argument | `Invalid` |
/// | anything else: syntax errors, missing tables, decoding errors, ... | `Internal` |
///
/// A check violation is `Invalid` because the row written breaks a rule of the schema;
/// code that decrements stock should guard in its `WHERE` clause and report its own
/// `Conflict` when no row matched, rather than rely on the constraint.
pub fn classify_sqlx_error(error: &sqlx::Error) -> ErrorKind {
    match error {
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => ErrorKind::Invalid,
        sqlx::Error::Database(database) => classify_database_error(database.as_ref()),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => ErrorKind::Unavailable,
        sqlx::Error::RowNotFound => ErrorKind::NotFound,
        sqlx::Error::Migrate(error) => match error.as_ref() {
            sqlx::migrate::MigrateError::Execute(source)
            | sqlx::migrate::MigrateError::ExecuteMigration(source, _) => {
                retryable_or_internal(classify_sqlx_error(source))
            }
            _ => ErrorKind::Internal,
        },
        _ => ErrorKind::Internal,
    }
}

fn classify_database_error(error: &dyn DatabaseError) -> ErrorKind {
    if let Some(postgres) = error.try_downcast_ref::<PgDatabaseError>() {
        return classify_sqlstate(postgres.code());
    }
    if let Some(code) = error
        .try_downcast_ref::<SqliteError>()
        .and_then(|sqlite| sqlite.code())
        .and_then(|code| code.parse::<i32>().ok())
    {
        return classify_sqlite_code(code);
    }
    // Another driver: fall back on sqlx's own constraint classification.
    match error.kind() {
        sqlx::error::ErrorKind::UniqueViolation => ErrorKind::AlreadyExists,
        sqlx::error::ErrorKind::ForeignKeyViolation
        | sqlx::error::ErrorKind::ExclusionViolation => ErrorKind::Conflict,
        sqlx::error::ErrorKind::NotNullViolation | sqlx::error::ErrorKind::CheckViolation => {
            ErrorKind::Invalid
        }
        _ => ErrorKind::Internal,
    }
}

/// Classifies a Postgres SQLSTATE (<https://www.postgresql.org/docs/current/errcodes-appendix.html>).
pub fn classify_sqlstate(code: &str) -> ErrorKind {
    match code {
        "23505" => ErrorKind::AlreadyExists,
        "23503" | "23P01" => ErrorKind::Conflict,
        "23502" | "23514" => ErrorKind::Invalid,
        "40001" | "40P01" | "55P03" | "55006" => ErrorKind::Transient,
        "57014" => ErrorKind::Timeout,
        "57P01" | "57P02" | "57P03" | "3D000" => ErrorKind::Unavailable,
        "42501" => ErrorKind::Forbidden,
        _ => match code.get(..2) {
            Some("08" | "53") => ErrorKind::Unavailable,
            Some("22") => ErrorKind::Invalid,
            Some("28") => ErrorKind::Unauthorized,
            Some("40") => ErrorKind::Transient,
            _ => ErrorKind::Internal,
        },
    }
}

/// Classifies a SQLite extended result code (<https://www.sqlite.org/rescode.html>).
pub fn classify_sqlite_code(code: i32) -> ErrorKind {
    match code {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        2067 | 1555 => ErrorKind::AlreadyExists,
        // SQLITE_CONSTRAINT_FOREIGNKEY
        787 => ErrorKind::Conflict,
        // SQLITE_CONSTRAINT_CHECK, _NOTNULL, _DATATYPE (STRICT tables)
        275 | 1299 | 3091 => ErrorKind::Invalid,
        _ => match code & 0xff {
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_INTERRUPT
            5 | 6 | 9 => ErrorKind::Transient,
            // SQLITE_READONLY, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN
            8 | 10 | 13 | 14 => ErrorKind::Unavailable,
            // SQLITE_CONSTRAINT (others), SQLITE_TOOBIG, SQLITE_MISMATCH, SQLITE_RANGE
            19 | 18 | 20 | 25 => ErrorKind::Invalid,
            // SQLITE_PERM
            3 => ErrorKind::Forbidden,
            // SQLITE_AUTH
            23 => ErrorKind::Unauthorized,
            _ => ErrorKind::Internal,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates() {
        for (code, kind) in [
            ("23505", ErrorKind::AlreadyExists),
            ("23503", ErrorKind::Conflict),
            ("23514", ErrorKind::Invalid),
            ("23502", ErrorKind::Invalid),
            ("40001", ErrorKind::Transient),
            ("40P01", ErrorKind::Transient),
            ("57014", ErrorKind::Timeout),
            ("57P01", ErrorKind::Unavailable),
            ("08006", ErrorKind::Unavailable),
            ("53300", ErrorKind::Unavailable),
            ("28P01", ErrorKind::Unauthorized),
            ("42501", ErrorKind::Forbidden),
            ("22P02", ErrorKind::Invalid),
            ("42P01", ErrorKind::Internal),
            ("XX000", ErrorKind::Internal),
        ] {
            assert_eq!(classify_sqlstate(code), kind, "{code}");
        }
    }

    #[test]
    fn sqlite_codes() {
        for (code, kind) in [
            (2067, ErrorKind::AlreadyExists),
            (1555, ErrorKind::AlreadyExists),
            (787, ErrorKind::Conflict),
            (275, ErrorKind::Invalid),
            (1299, ErrorKind::Invalid),
            (5, ErrorKind::Transient),
            (517, ErrorKind::Transient),
            (6, ErrorKind::Transient),
            (14, ErrorKind::Unavailable),
            (1, ErrorKind::Internal),
        ] {
            assert_eq!(classify_sqlite_code(code), kind, "{code}");
        }
    }

    #[test]
    fn driver_errors() {
        assert_eq!(
            classify_sqlx_error(&sqlx::Error::PoolTimedOut),
            ErrorKind::Unavailable
        );
        assert_eq!(
            classify_sqlx_error(&sqlx::Error::Io(std::io::Error::from(
                std::io::ErrorKind::ConnectionRefused
            ))),
            ErrorKind::Unavailable
        );
        assert_eq!(
            classify_sqlx_error(&sqlx::Error::RowNotFound),
            ErrorKind::NotFound
        );
        assert_eq!(
            classify_sqlx_error(&sqlx::Error::ColumnNotFound("x".into())),
            ErrorKind::Internal
        );
    }

    #[test]
    fn migration_errors_explain_what_to_do() {
        let error = Error::ChecksumMismatch {
            version: 2,
            description: "products inventory".into(),
        };
        let message = error.to_string();
        assert!(
            message.contains("migration 2 (products inventory)"),
            "{message}"
        );
        assert!(message.contains("checksum mismatch"), "{message}");
        assert!(message.contains("new migration"), "{message}");
        assert_eq!(error.kind(), ErrorKind::Internal);

        let error = Error::UnknownVersion {
            version: 7,
            known: vec![1, 2],
        };
        assert_eq!(
            error.to_string(),
            "7 is not a migration version; known versions are 1, 2, or 0 to revert everything"
        );
        assert_eq!(error.kind(), ErrorKind::Invalid);
    }

    #[test]
    fn sqlx_checksum_mismatch_maps_to_ours() {
        let error = Error::from(sqlx::migrate::MigrateError::VersionMismatch(3));
        assert!(matches!(error, Error::ChecksumMismatch { version: 3, .. }));
    }
}
