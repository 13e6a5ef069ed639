//! The PostgreSQL repository against a real server: the port's conformance suite, one
//! test per check, each on a fresh database (`TestPostgres`), plus what only a real
//! server shows (a closed pool is `Unavailable`). Needs Postgres on 127.0.0.1:5432
//! (`make services`).

use seam_core::{Classify, ErrorKind};
use seam_repository::RepositoryPorts;
use seam_repository_postgres::PostgresRepositories;
use seam_sql::{Database, SqlConfig};
use seam_testkit::TestPostgres;

struct Guard {
    database: Database,
    server: TestPostgres,
}

async fn connect() -> (PostgresRepositories, Guard) {
    seam_testkit::init_test_logging();
    let server = TestPostgres::new().await;
    let database = Database::connect(&SqlConfig::new(server.url()))
        .await
        .expect("connect to the test database");
    database.migrate_up().await.expect("migrate");
    let repositories = PostgresRepositories::new(&database).expect("a postgres database");
    (repositories, Guard { database, server })
}

async fn setup() -> (RepositoryPorts, Guard) {
    let (repositories, guard) = connect().await;
    (repositories.ports(), guard)
}

async fn teardown(guard: Guard) {
    guard.database.close().await;
    guard.server.cleanup().await;
}

seam_repository::conformance_tests!(setup, teardown);

#[tokio::test]
async fn run_all_on_one_database() {
    let (ports, guard) = setup().await;
    seam_repository::conformance::run_all(&ports).await;
    drop(ports);
    teardown(guard).await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_and_retryable() {
    let (repositories, guard) = connect().await;
    guard.database.close().await;
    let ports = repositories.ports();
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

#[tokio::test]
async fn a_sqlite_database_is_refused() {
    let file = seam_testkit::TestSqlite::new().await;
    let database = Database::connect(&SqlConfig::new(file.url()))
        .await
        .unwrap();
    let error = PostgresRepositories::new(&database).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    database.close().await;
    file.cleanup().await;
}
