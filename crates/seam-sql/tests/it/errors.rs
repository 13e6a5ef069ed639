//! Constraint violations and contention from the real servers, classified.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use seam_sql::{Database, Error, SqlConfig, classify_sqlx_error};

use crate::support::{TestDb, execute};

on_both_backends!(
    negative_stock_is_rejected_as_invalid,
    duplicate_email_in_any_case_already_exists,
    stock_for_an_unknown_product_conflicts,
);

async fn negative_stock_is_rejected_as_invalid(db: &Database) {
    db.migrate_up().await.unwrap();
    db.seed().await.unwrap();
    for statement in [
        "UPDATE inventory SET on_hand = -1 WHERE sku = 'MUG-SEAM'",
        "UPDATE inventory SET on_hand = on_hand - 1000 WHERE sku = 'NOTEBOOK-A5'",
        "UPDATE inventory SET reserved = -1 WHERE sku = 'MUG-SEAM'",
    ] {
        let error = execute(db, statement).await.unwrap_err();
        assert!(matches!(error, Error::Query(_)), "{error:?}");
        assert_eq!(error.kind(), ErrorKind::Invalid, "{statement}: {error}");
        assert!(!error.is_retryable());
        let expected_code = match db.backend() {
            seam_sql::Backend::Postgres => "23514",
            seam_sql::Backend::Sqlite => "275",
        };
        assert_eq!(
            error.database_code().as_deref(),
            Some(expected_code),
            "{error}"
        );
    }
    let error = execute(
        db,
        "UPDATE inventory SET on_hand = -1 WHERE sku = 'MUG-SEAM'",
    )
    .await
    .unwrap_err();
    if db.backend() == seam_sql::Backend::Postgres {
        assert_eq!(error.constraint(), Some("inventory_on_hand_not_negative"));
    }
    // Nothing changed.
    assert_eq!(
        crate::support::scalar(db, "SELECT CAST(MIN(on_hand) AS BIGINT) FROM inventory").await,
        3
    );
}

async fn duplicate_email_in_any_case_already_exists(db: &Database) {
    db.migrate_up().await.unwrap();
    execute(
        db,
        "INSERT INTO users (id, email, name) \
         VALUES ('01900000-0000-7000-8000-000000000001', 'grace@example.com', 'Grace Hopper')",
    )
    .await
    .unwrap();
    let error = execute(
        db,
        "INSERT INTO users (id, email, name) \
         VALUES ('01900000-0000-7000-8000-000000000002', 'Grace@Example.COM', 'Grace H.')",
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
    let expected_code = match db.backend() {
        seam_sql::Backend::Postgres => "23505",
        seam_sql::Backend::Sqlite => "2067",
    };
    assert_eq!(
        error.database_code().as_deref(),
        Some(expected_code),
        "{error}"
    );
    // The same id is a duplicate too.
    let error = execute(
        db,
        "INSERT INTO users (id, email, name) \
         VALUES ('01900000-0000-7000-8000-000000000001', 'other@example.com', 'Other')",
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::AlreadyExists, "{error}");
}

async fn stock_for_an_unknown_product_conflicts(db: &Database) {
    db.migrate_up().await.unwrap();
    let error = execute(
        db,
        "INSERT INTO inventory (sku, on_hand) VALUES ('NO-SUCH-SKU', 1)",
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
}

/// SQLite's `STRICT` tables refuse a `Uuid` bound as-is (sqlx sends a 16-byte blob): ids
/// must be bound as hyphenated text, as the migration says.
#[tokio::test]
async fn sqlite_rejects_a_blob_id() {
    let test = TestDb::sqlite().await;
    test.db.migrate_up().await.unwrap();
    let error =
        sqlx::query("INSERT INTO users (id, email, name) VALUES (?1, 'x@example.com', 'X')")
            .bind(uuid::Uuid::now_v7())
            .execute(test.db.as_sqlite().unwrap())
            .await
            .unwrap_err();
    assert_eq!(classify_sqlx_error(&error), ErrorKind::Invalid, "{error}");
    test.cleanup().await;
}

/// A writer blocked by another connection's write lock past the busy timeout gets
/// `SQLITE_BUSY`: transient, worth retrying.
#[tokio::test]
async fn sqlite_busy_is_transient() {
    let file = seam_testkit::TestSqlite::new().await;
    let config = SqlConfig {
        sqlite_busy_timeout: Duration::from_millis(50),
        ..SqlConfig::new(file.url())
    };
    let db = Database::connect(&config).await.unwrap();
    db.migrate_up().await.unwrap();
    let pool = db.as_sqlite().unwrap();

    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let error = execute(
        &db,
        "INSERT INTO products (sku, name, price_minor, currency) VALUES ('A', 'A', 1, 'EUR')",
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
    assert!(error.is_retryable());
    assert_eq!(error.database_code().as_deref(), Some("5"), "{error}");
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);

    db.close().await;
    file.cleanup().await;
}

/// A Postgres statement that cannot get its row lock in time (lock_timeout, 55P03) is
/// transient, like deadlocks and serialization failures.
#[tokio::test]
async fn postgres_lock_timeout_is_transient() {
    let test = TestDb::postgres().await;
    test.db.migrate_up().await.unwrap();
    test.db.seed().await.unwrap();
    let pool = test.db.as_postgres().unwrap();

    let mut holder = pool.begin().await.unwrap();
    sqlx::query("UPDATE inventory SET reserved = 1 WHERE sku = 'MUG-SEAM'")
        .execute(&mut *holder)
        .await
        .unwrap();

    let mut waiter = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL lock_timeout = '50ms'")
        .execute(&mut *waiter)
        .await
        .unwrap();
    let error = sqlx::query("UPDATE inventory SET reserved = 2 WHERE sku = 'MUG-SEAM'")
        .execute(&mut *waiter)
        .await
        .unwrap_err();
    let error = Error::from(error);
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
    assert_eq!(error.database_code().as_deref(), Some("55P03"));

    waiter.rollback().await.unwrap();
    holder.rollback().await.unwrap();
    test.cleanup().await;
}

/// Two transactions taking the same rows in opposite order: Postgres picks a victim
/// (40P01), which must be retryable.
#[tokio::test]
async fn postgres_deadlock_is_transient() {
    let test = TestDb::postgres().await;
    test.db.migrate_up().await.unwrap();
    test.db.seed().await.unwrap();
    let pool = test.db.as_postgres().unwrap().clone();

    let mut first = pool.begin().await.unwrap();
    let mut second = pool.begin().await.unwrap();
    sqlx::query("UPDATE inventory SET reserved = 1 WHERE sku = 'MUG-SEAM'")
        .execute(&mut *first)
        .await
        .unwrap();
    sqlx::query("UPDATE inventory SET reserved = 1 WHERE sku = 'STICKERS-10'")
        .execute(&mut *second)
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        sqlx::query("UPDATE inventory SET reserved = 2 WHERE sku = 'STICKERS-10'")
            .execute(&mut *first),
        sqlx::query("UPDATE inventory SET reserved = 2 WHERE sku = 'MUG-SEAM'")
            .execute(&mut *second),
    );
    let victim = match (a, b) {
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        other => panic!("expected exactly one deadlock victim, got {other:?}"),
    };
    let victim = Error::from(victim);
    assert_eq!(victim.database_code().as_deref(), Some("40P01"), "{victim}");
    assert_eq!(victim.kind(), ErrorKind::Transient);

    drop((first, second));
    test.cleanup().await;
}
