//! The SQLite repository against a real database file: the port's conformance suite, one
//! test per check, each on a fresh file (`TestSqlite`), plus what only a real database
//! shows (a closed pool is `Unavailable`, another backend is refused).

use seam_core::{Classify, ErrorKind};
use seam_repository::RepositoryPorts;
use seam_repository_sqlite::SqliteRepositories;
use seam_sql::{Database, SqlConfig};
use seam_testkit::TestSqlite;

struct Guard {
    database: Database,
    file: TestSqlite,
}

async fn connect() -> (SqliteRepositories, Guard) {
    seam_testkit::init_test_logging();
    let file = TestSqlite::new().await;
    let database = Database::connect(&SqlConfig::new(file.url()))
        .await
        .expect("open the test database");
    database.migrate_up().await.expect("migrate");
    let repositories = SqliteRepositories::new(&database).expect("a SQLite database");
    (repositories, Guard { database, file })
}

async fn setup() -> (RepositoryPorts, Guard) {
    let (repositories, guard) = connect().await;
    (repositories.ports(), guard)
}

async fn teardown(guard: Guard) {
    guard.database.close().await;
    guard.file.cleanup().await;
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
    let config = seam_repository_sqlite::SqliteRepositoryConfig {
        database: SqlConfig::new("postgres://postgres@127.0.0.1:5432/seam"),
    };
    let error = config.validate().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("database.url"), "{error}");
}
