//! The SQLite repositories, each test on a fresh file.

use seam_core::{Classify, ErrorKind};
use seam_repository::RepositoryPorts;
use seam_repository_sql::{SqliteRepositories, SqliteRepositoryConfig};
use seam_sql::{Backend, SqlConfig};

use crate::support::{self, Guard, teardown};

async fn connect() -> (SqliteRepositories, Guard) {
    let guard = Guard::new(Backend::Sqlite).await;
    let repositories = SqliteRepositories::new(&guard.database).expect("a SQLite database");
    (repositories, guard)
}

async fn setup() -> (RepositoryPorts, Guard) {
    let (repositories, guard) = connect().await;
    (repositories.ports(), guard)
}

seam_repository::conformance_tests!(setup, teardown);

#[tokio::test]
async fn run_all_on_one_database() {
    support::run_all_on_one_database(Backend::Sqlite).await;
}

#[tokio::test]
async fn sql_repositories_pick_sqlite() {
    support::sql_repositories_pick_the_backend(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_and_retryable() {
    let (repositories, guard) = connect().await;
    support::a_closed_pool_is_unavailable_and_retryable(repositories.ports(), guard).await;
}

#[tokio::test]
async fn a_postgres_database_is_refused() {
    let guard = Guard::new(Backend::Postgres).await;
    let error = SqliteRepositories::new(&guard.database).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    teardown(guard).await;
}

#[tokio::test]
async fn ids_and_times_are_stored_as_text() {
    let (repositories, guard) = connect().await;
    let ports = repositories.ports();
    let user = ports
        .users
        .create(
            seam_domain::NewUser::new(
                seam_domain::EmailAddress::parse("text@example.com").unwrap(),
                "Text",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (id, created_at): (String, String) =
        seam_sql::sqlx::query_as("SELECT id, created_at FROM users")
            .fetch_one(repositories.pool())
            .await
            .unwrap();
    assert_eq!(id, user.id.to_string());
    assert_eq!(
        created_at,
        user.created_at
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string()
    );
    drop(ports);
    teardown(guard).await;
}

#[tokio::test]
async fn config_refuses_a_postgres_url() {
    let config = SqliteRepositoryConfig {
        database: SqlConfig::new("postgres://postgres@127.0.0.1:5432/seam"),
    };
    let error = config.validate().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("database.url"), "{error}");
}
