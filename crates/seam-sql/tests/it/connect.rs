//! Connecting: configuration errors, unreachable servers, SQLite file settings.

use std::time::Duration;

use seam_core::{Classify, ErrorKind, SecretString};
use seam_sql::{Backend, Database, Error, SqlConfig};

#[tokio::test]
async fn unreachable_postgres_is_unavailable() {
    let config = SqlConfig {
        acquire_timeout: Duration::from_millis(500),
        ..SqlConfig::new("postgres://seam:hunter2@127.0.0.1:1/seam")
    };
    let error = Database::connect(&config).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Connect {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Unavailable);
    assert!(error.is_retryable());
    let message = error.to_string();
    assert!(message.contains("postgres://127.0.0.1:1/seam"), "{message}");
    // The cause, not just "pool timed out".
    assert!(message.contains("refused"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(!format!("{error:?}").contains("hunter2"));
}

#[tokio::test]
async fn unsupported_scheme_is_a_config_error() {
    let error = Database::connect(&SqlConfig::new("mysql://root:hunter2@127.0.0.1/seam"))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Invalid);
    let message = error.to_string();
    assert!(message.contains("`database.url`"), "{message}");
    assert!(
        message.contains("postgres://") && message.contains("sqlite://"),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
}

#[tokio::test]
async fn invalid_pool_settings_are_config_errors() {
    let config = SqlConfig {
        max_connections: 0,
        ..SqlConfig::new("sqlite::memory:")
    };
    let error = Database::connect(&config).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(
        error.to_string().contains("`database.max_connections`"),
        "{error}"
    );
}

#[tokio::test]
async fn wrong_password_is_not_retried_forever() {
    // Trust authentication accepts any password, so use a role that does not exist.
    let server = seam_testkit::require_postgres();
    let url = server.replacen("postgres://postgres@", "postgres://no_such_role_seam@", 1);
    if url == server {
        // A custom SEAM_TEST_POSTGRES_URL in another form: nothing to rewrite.
        return;
    }
    let error = Database::connect(&SqlConfig::new(url)).await.unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Unauthorized, "{error}");
}

#[tokio::test]
async fn sqlite_file_and_folders_are_created_with_wal_and_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested/deeper/seam.db");
    let config = SqlConfig {
        url: SecretString::from(format!("sqlite://{}", file.display())),
        sqlite_busy_timeout: Duration::from_millis(1234),
        ..SqlConfig::default()
    };
    let db = Database::connect(&config).await.unwrap();
    assert!(file.exists());
    assert_eq!(db.backend(), Backend::Sqlite);
    assert!(db.as_postgres().is_none());
    let pool = db.as_sqlite().unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(busy, 1234);
    assert_eq!(db.redacted_url(), format!("sqlite://{}", file.display()));
    db.close().await;
    assert!(db.is_closed());
}

#[tokio::test]
async fn in_memory_sqlite_works_and_migrates() {
    let db = Database::connect(&SqlConfig::new("sqlite::memory:"))
        .await
        .unwrap();
    assert_eq!(
        db.migrate_up().await.unwrap(),
        seam_sql::known_versions(seam_sql::Backend::Sqlite)
    );
    db.seed().await.unwrap();
    db.close().await;
}

#[tokio::test]
async fn postgres_accessors_and_redacted_debug() {
    let test = crate::support::TestDb::postgres().await;
    assert!(test.db.as_postgres().is_some());
    assert!(test.db.as_sqlite().is_none());
    let debug = format!("{:?}", test.db);
    assert!(
        debug.contains("Postgres") && debug.contains("127.0.0.1:5432"),
        "{debug}"
    );
    test.cleanup().await;
}
