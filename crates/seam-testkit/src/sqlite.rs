//! A fresh SQLite file per test, in a temporary folder removed afterwards.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use tempfile::TempDir;

/// A SQLite database file of its own, for one test.
///
/// The file lives in a fresh temporary folder that is removed when this value is dropped
/// (or by [`TestSqlite::cleanup`], which closes the pool first). The pool uses the same
/// settings as production: WAL, `foreign_keys=ON`, a busy timeout.
///
/// ```no_run
/// # async fn example() {
/// let db = seam_testkit::TestSqlite::new().await;
/// sqlx::query("CREATE TABLE t (id INTEGER)").execute(db.pool()).await.unwrap();
/// db.cleanup().await;
/// # }
/// ```
#[derive(Debug)]
pub struct TestSqlite {
    // Field order is drop order: the pool closes before the folder goes.
    pool: SqlitePool,
    url: String,
    path: PathBuf,
    dir: TempDir,
}

impl TestSqlite {
    /// Creates the folder and the database file, and connects a small pool.
    ///
    /// # Panics
    ///
    /// When the folder or the database cannot be created.
    pub async fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("seam-test-")
            .tempdir()
            .unwrap_or_else(|error| panic!("cannot create a temporary folder for SQLite: {error}"));
        let path = dir.path().join("test.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .unwrap_or_else(|error| {
                panic!(
                    "cannot open the test SQLite database {}: {error}",
                    path.display()
                )
            });
        Self {
            pool,
            url,
            path,
            dir,
        }
    }

    /// The database's URL, `sqlite:///tmp/seam-test-…/test.db?mode=rwc`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A pool of up to 5 connections to the database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool and removes the folder.
    ///
    /// # Panics
    ///
    /// When the folder cannot be removed.
    pub async fn cleanup(self) {
        let Self { pool, dir, .. } = self;
        pool.close().await;
        let shown = dir.path().display().to_string();
        dir.close()
            .unwrap_or_else(|error| panic!("cannot remove the test folder {shown}: {error}"));
    }
}
