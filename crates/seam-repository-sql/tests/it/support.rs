//! A fresh, migrated database of either backend, and the tests every backend runs
//! ([`backend_tests!`]).

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

/// `new` on another backend's database is refused.
pub(crate) async fn the_other_backend_is_refused<T: std::fmt::Debug>(
    other: Backend,
    new: impl FnOnce(&Database) -> seam_repository::Result<T>,
) {
    let guard = Guard::new(other).await;
    let error = new(&guard.database).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    teardown(guard).await;
}

/// A configuration with another backend's URL does not validate, naming the key.
pub(crate) fn the_config_refuses(error: seam_repository::Error) {
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("database.url"), "{error}");
}

/// The tests every backend runs, in the module that calls it: the conformance suite one
/// check per test (each on a fresh database), the whole suite on one database,
/// [`SqlRepositories::new`] picking the backend, a closed pool, and the repositories and
/// their configuration refusing the other backend. Leaves `connect()` for the module's
/// own tests.
macro_rules! backend_tests {
    (
        backend: $backend:expr,
        repositories: $repositories:ident,
        config: $config:ident,
        other: $other:expr,
        other_url: $other_url:expr $(,)?
    ) => {
        use $crate::support::{Guard, teardown};

        async fn connect() -> ($repositories, Guard) {
            let guard = Guard::new($backend).await;
            let repositories = $repositories::new(&guard.database)
                .expect("repositories of the test database's backend");
            (repositories, guard)
        }

        async fn setup() -> (seam_repository::RepositoryPorts, Guard) {
            let (repositories, guard) = connect().await;
            (repositories.ports(), guard)
        }

        seam_repository::conformance_tests!(setup, teardown);

        #[tokio::test]
        async fn run_all_on_one_database() {
            $crate::support::run_all_on_one_database($backend).await;
        }

        #[tokio::test]
        async fn sql_repositories_pick_the_backend() {
            $crate::support::sql_repositories_pick_the_backend($backend).await;
        }

        #[tokio::test]
        async fn a_closed_pool_is_unavailable_and_retryable() {
            let (repositories, guard) = connect().await;
            $crate::support::a_closed_pool_is_unavailable_and_retryable(
                repositories.ports(),
                guard,
            )
            .await;
        }

        #[tokio::test]
        async fn a_database_of_the_other_backend_is_refused() {
            $crate::support::the_other_backend_is_refused($other, $repositories::new).await;
        }

        #[test]
        fn the_config_refuses_a_url_of_the_other_backend() {
            let config = $config {
                database: seam_sql::SqlConfig::new($other_url),
            };
            $crate::support::the_config_refuses(config.validate().unwrap_err());
        }
    };
}

pub(crate) use backend_tests;
