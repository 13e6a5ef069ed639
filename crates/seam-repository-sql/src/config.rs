//! What the configurations of both dialects share: checking that the settings select
//! the right backend, and opening the database.

use seam_core::{Classify, ErrorKind};
use seam_repository::{Error, Result};
use seam_sql::{Backend, Database, SqlConfig};

/// The backend's name in messages.
fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite",
    }
}

/// Checks the settings, naming each problem's key: valid, and a URL of `backend`.
pub(crate) fn validate(database: &SqlConfig, backend: Backend) -> Result<()> {
    database
        .validate()
        .map_err(|error| Error::invalid("database", error.to_string()))?;
    if database.backend().ok() == Some(backend) {
        return Ok(());
    }
    let scheme = match backend {
        Backend::Postgres => "postgres://",
        Backend::Sqlite => "sqlite:",
    };
    Err(Error::invalid(
        "database.url",
        format!("the {} repository needs a {scheme} URL", name(backend)),
    ))
}

/// Opens the database of validated settings: invalid settings stay
/// [`Error::Invalid`], anything else is [`Error::Unavailable`].
pub(crate) async fn connect(database: &SqlConfig, adapter: &'static str) -> Result<Database> {
    Database::connect(database)
        .await
        .map_err(|error| match error.kind() {
            ErrorKind::Invalid => Error::invalid("database", error.to_string()),
            _ => Error::Unavailable {
                adapter,
                source: Box::new(error),
            },
        })
}

/// The error of a repository of `wanted` built over a database of another backend.
pub(crate) fn wrong_backend(wanted: Backend, database: &Database) -> Error {
    Error::invalid(
        "database",
        format!(
            "the {} repository needs a {} database, got {}",
            name(wanted),
            name(wanted),
            database.backend()
        ),
    )
}
