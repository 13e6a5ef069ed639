//! What the configurations of both dialects share: the struct itself
//! ([`repository_config!`]), checking that the settings select the right backend, and
//! opening the database.

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

/// Defines a dialect's configuration: the `[database]` settings, transparently, with
/// `validate()` (a valid URL of `backend`) and `build()` (validate, connect, the
/// repositories). Expects `ADAPTER` in scope.
macro_rules! repository_config {
    (
        $(#[$meta:meta])*
        pub struct $config:ident for $repositories:ident on $backend:expr;
        url: $url:literal
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $config {
            #[doc = concat!("The connection settings; the URL must be `", $url, "…`.")]
            pub database: seam_sql::SqlConfig,
        }

        impl $config {
            /// Checks the settings, naming each problem's key.
            ///
            /// # Errors
            ///
            /// [`Error::Invalid`](seam_repository::Error::Invalid) for invalid settings or
            /// a URL of another backend.
            pub fn validate(&self) -> seam_repository::Result<()> {
                $crate::config::validate(&self.database, $backend)
            }

            /// Validates, opens the database, and returns the repositories.
            ///
            /// # Errors
            ///
            /// [`Error::Invalid`](seam_repository::Error::Invalid) as
            /// [`validate`](Self::validate);
            /// [`Error::Unavailable`](seam_repository::Error::Unavailable) when the
            /// database cannot be reached or opened.
            pub async fn build(self) -> seam_repository::Result<$repositories> {
                self.validate()?;
                let database = $crate::config::connect(&self.database, ADAPTER).await?;
                $repositories::new(&database)
            }
        }
    };
}

pub(crate) use repository_config;
