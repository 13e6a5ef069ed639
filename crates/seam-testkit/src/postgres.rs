//! A fresh Postgres database per test, dropped afterwards even when the test panics.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use uuid::Uuid;

use crate::services::{postgres_url, require_service_async, url_address};

/// The prefix of every database [`TestPostgres`] creates.
pub const TEST_DATABASE_PREFIX: &str = "seam_test_";

/// Test databases older than this are left over from killed runs and are dropped by the
/// next [`TestPostgres::new`].
const STALE_AFTER: Duration = Duration::from_secs(3600);

static SWEPT: AtomicBool = AtomicBool::new(false);

/// A database of its own on the test Postgres server, for one test.
///
/// [`TestPostgres::new`] checks the server answers (panicking with how to start it when it
/// does not), creates `seam_test_<uuid>`, and connects a small pool to it. Call
/// [`TestPostgres::cleanup`] at the end of the test; if the test panics before, `Drop`
/// drops the database anyway (on a helper thread with its own runtime, since `Drop` cannot
/// await).
///
/// ```no_run
/// # async fn example() {
/// let db = seam_testkit::TestPostgres::new().await;
/// sqlx::query("CREATE TABLE t (id int)").execute(db.pool()).await.unwrap();
/// db.cleanup().await;
/// # }
/// ```
pub struct TestPostgres {
    name: String,
    url: String,
    admin: PgConnectOptions,
    pool: PgPool,
    dropped: bool,
}

impl TestPostgres {
    /// Creates a fresh database on the server at [`crate::postgres_url`].
    ///
    /// # Panics
    ///
    /// When the server is not reachable (see [`crate::require_service`]) or the database
    /// cannot be created.
    pub async fn new() -> Self {
        Self::with_admin_url(&postgres_url()).await
    }

    /// Creates a fresh database on the server of `admin_url`, which must name a role allowed
    /// to create databases and a database to connect to for that (such as `postgres`).
    ///
    /// # Panics
    ///
    /// As [`TestPostgres::new`].
    pub async fn with_admin_url(admin_url: &str) -> Self {
        require_service_async("postgres", &url_address(admin_url)).await;
        let admin = PgConnectOptions::from_str(admin_url)
            .unwrap_or_else(|error| panic!("invalid Postgres admin URL for tests: {error}"))
            .disable_statement_logging();

        if !SWEPT.swap(true, Ordering::SeqCst) {
            sweep_stale_databases(&admin).await;
        }

        let name = format!("{TEST_DATABASE_PREFIX}{}", Uuid::now_v7().simple());
        let mut conn = admin.connect().await.unwrap_or_else(|error| {
            panic!("cannot connect to the test Postgres server as admin: {error}")
        });
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|error| panic!("cannot create the test database {name}: {error}"));
        let _ = conn.close().await;

        let url = with_database(admin_url, &name);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(admin.clone().database(&name))
            .await
            .unwrap_or_else(|error| panic!("cannot connect to the test database {name}: {error}"));
        Self {
            name,
            url,
            admin,
            pool,
            dropped: false,
        }
    }

    /// The database's name, `seam_test_<uuid>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The database's URL: the admin URL with the database replaced.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A pool of up to 5 connections to the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool and drops the database.
    ///
    /// # Panics
    ///
    /// When the database cannot be dropped: a leaked database should fail the test run.
    pub async fn cleanup(mut self) {
        self.pool.close().await;
        drop_database(&self.admin, &self.name)
            .await
            .unwrap_or_else(|error| panic!("cannot drop the test database {}: {error}", self.name));
        self.dropped = true;
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let admin = self.admin.clone();
        let name = self.name.clone();
        // Drop cannot await, and blocking on the test's own runtime could deadlock it:
        // drop the database from a thread with a runtime of its own.
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime
                .block_on(drop_database(&admin, &name))
                .map_err(|error| error.to_string())
        })
        .join();
        // Never panic here: this may run while the test is already panicking.
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!(
                    "seam-testkit: could not drop test database {}: {error}",
                    self.name
                );
            }
            Err(_) => {
                eprintln!(
                    "seam-testkit: the thread dropping test database {} panicked",
                    self.name
                );
            }
        }
    }
}

impl std::fmt::Debug for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPostgres")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Whether a database of this name exists on the server at `admin_url`.
///
/// # Panics
///
/// When the server cannot be queried.
pub async fn postgres_database_exists(admin_url: &str, name: &str) -> bool {
    let mut conn = PgConnectOptions::from_str(admin_url)
        .unwrap_or_else(|error| panic!("invalid Postgres admin URL for tests: {error}"))
        .disable_statement_logging()
        .connect()
        .await
        .unwrap_or_else(|error| panic!("cannot connect to the test Postgres server: {error}"));
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap_or_else(|error| panic!("cannot list databases: {error}"));
    let _ = conn.close().await;
    exists
}

async fn drop_database(admin: &PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    let mut conn = admin.connect().await?;
    // FORCE ends the sessions still open on it (a pool the test leaked, say).
    sqlx::query(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    conn.close().await
}

/// Drops test databases left by runs that were killed before they could clean up. Their
/// names carry a UUIDv7, hence their creation time; only those older than an hour go, so
/// concurrent runs are never disturbed. Best effort: errors are ignored.
async fn sweep_stale_databases(admin: &PgConnectOptions) {
    let Ok(mut conn) = admin.connect().await else {
        return;
    };
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'seam\\_test\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
    let _ = conn.close().await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    for name in names {
        let created = name
            .strip_prefix(TEST_DATABASE_PREFIX)
            .and_then(|id| Uuid::try_parse(id).ok())
            .and_then(|id| id.get_timestamp())
            .map(|timestamp| Duration::from_secs(timestamp.to_unix().0));
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER) {
            let _ = drop_database(admin, &name).await;
        }
    }
}

/// `url` with its database (the path) replaced by `database`, keeping the query.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
            "postgres://postgres@127.0.0.1:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h:1/db?sslmode=disable", "t2"),
            "postgres://u:p@h:1/t2?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t3"), "postgres://h/t3");
        assert_eq!(
            with_database("postgres://h?x=1", "t4"),
            "postgres://h/t4?x=1"
        );
    }
}
