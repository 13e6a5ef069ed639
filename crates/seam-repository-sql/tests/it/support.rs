//! A fresh, migrated database of either backend, and the checks both backends share.

use seam_core::{Classify, ErrorKind};
use seam_repository::RepositoryPorts;
use seam_repository_sql::SqlRepositories;
use seam_sql::{Backend, Database, SqlConfig};
use seam_testkit::{TestPostgres, TestSqlite};

/// Where the test database lives, removed by [`teardown`].
enum Store {
    Postgres(Box<TestPostgres>),
    Sqlite(TestSqlite),
}

/// A connected, migrated test database; hand it to [`teardown`].
pub(crate) struct Guard {
    pub(crate) database: Database,
    store: Store,
}

impl Guard {
    /// A fresh database of `backend`, migrated.
    pub(crate) async fn new(backend: Backend) -> Self {
        seam_testkit::init_test_logging();
        let store = match backend {
            Backend::Postgres => Store::Postgres(Box::new(TestPostgres::new().await)),
            Backend::Sqlite => Store::Sqlite(TestSqlite::new().await),
        };
        let url = match &store {
            Store::Postgres(server) => server.url().to_owned(),
            Store::Sqlite(file) => file.url().to_owned(),
        };
        let database = Database::connect(&SqlConfig::new(url))
            .await
            .expect("open the test database");
        database.migrate_up().await.expect("migrate");
        Self { database, store }
    }
}

pub(crate) async fn teardown(guard: Guard) {
    guard.database.close().await;
    match guard.store {
        Store::Postgres(server) => server.cleanup().await,
        Store::Sqlite(file) => file.cleanup().await,
    }
}

/// The whole suite in one go on one database.
pub(crate) async fn run_all_on_one_database(backend: Backend) {
    let guard = Guard::new(backend).await;
    let ports = SqlRepositories::new(&guard.database).unwrap().ports();
    seam_repository::conformance::run_all(&ports).await;
    drop(ports);
    teardown(guard).await;
}

/// [`SqlRepositories::new`] picks the repositories of the database's backend.
pub(crate) async fn sql_repositories_pick_the_backend(backend: Backend) {
    let guard = Guard::new(backend).await;
    let repositories = SqlRepositories::new(&guard.database).unwrap();
    assert_eq!(repositories.backend(), backend);
    let matches = match backend {
        Backend::Postgres => matches!(repositories, SqlRepositories::Postgres(_)),
        Backend::Sqlite => matches!(repositories, SqlRepositories::Sqlite(_)),
    };
    assert!(matches, "{repositories:?}");
    teardown(guard).await;
}

/// Once the pool is closed, reads and `begin` are `Unavailable`, which is retryable.
pub(crate) async fn a_closed_pool_is_unavailable_and_retryable(
    ports: RepositoryPorts,
    guard: Guard,
) {
    guard.database.close().await;
    let error = ports
        .users
        .get(seam_domain::UserId::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error:?}");
    assert!(error.is_retryable());
    let error = ports.unit_of_work.begin().await.err().expect("begin fails");
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error:?}");
    drop(ports);
    teardown(guard).await;
}
