//! The SQLite repositories, each test on a fresh file, and how SQLite stores values.

use seam_repository_sql::{SqliteRepositories, SqliteRepositoryConfig};
use seam_sql::Backend;

crate::support::backend_tests! {
    backend: Backend::Sqlite,
    repositories: SqliteRepositories,
    config: SqliteRepositoryConfig,
    other: Backend::Postgres,
    other_url: "postgres://postgres@127.0.0.1:5432/seam",
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
