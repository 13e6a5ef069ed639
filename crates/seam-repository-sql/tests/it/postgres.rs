//! The PostgreSQL repositories, each test on a fresh database.

use seam_core::{Classify, ErrorKind};
use seam_repository::RepositoryPorts;
use seam_repository_sql::{PostgresRepositories, PostgresRepositoryConfig};
use seam_sql::{Backend, SqlConfig};

use crate::support::{self, Guard, teardown};

async fn connect() -> (PostgresRepositories, Guard) {
    let guard = Guard::new(Backend::Postgres).await;
    let repositories = PostgresRepositories::new(&guard.database).expect("a postgres database");
    (repositories, guard)
}

async fn setup() -> (RepositoryPorts, Guard) {
    let (repositories, guard) = connect().await;
    (repositories.ports(), guard)
}

seam_repository::conformance_tests!(setup, teardown);

#[tokio::test]
async fn run_all_on_one_database() {
    support::run_all_on_one_database(Backend::Postgres).await;
}

#[tokio::test]
async fn sql_repositories_pick_postgres() {
    support::sql_repositories_pick_the_backend(Backend::Postgres).await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_and_retryable() {
    let (repositories, guard) = connect().await;
    support::a_closed_pool_is_unavailable_and_retryable(repositories.ports(), guard).await;
}

#[tokio::test]
async fn a_sqlite_database_is_refused() {
    let guard = Guard::new(Backend::Sqlite).await;
    let error = PostgresRepositories::new(&guard.database).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    teardown(guard).await;
}

#[tokio::test]
async fn config_refuses_a_sqlite_url() {
    let config = PostgresRepositoryConfig {
        database: SqlConfig::new("sqlite::memory:"),
    };
    let error = config.validate().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("database.url"), "{error}");
}
