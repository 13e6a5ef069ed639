//! The isolated databases against the real servers: they exist while the test runs and
//! are gone afterwards, whether the test cleans up, forgets to, or panics.

use seam_testkit::{TestPostgres, TestSqlite, postgres_database_exists, postgres_url};

#[tokio::test]
async fn postgres_database_exists_until_cleanup() {
    let db = TestPostgres::new().await;
    let name = db.name().to_owned();
    assert!(name.starts_with(seam_testkit::TEST_DATABASE_PREFIX));
    assert!(db.url().ends_with(&format!("/{name}")), "{}", db.url());
    assert!(postgres_database_exists(&postgres_url(), &name).await);

    let current: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(current, name);
    sqlx::query("CREATE TABLE t (id int)")
        .execute(db.pool())
        .await
        .unwrap();

    db.cleanup().await;
    assert!(!postgres_database_exists(&postgres_url(), &name).await);
}

#[tokio::test]
async fn postgres_database_is_dropped_without_cleanup() {
    let db = TestPostgres::new().await;
    let name = db.name().to_owned();
    // A second connection the test forgot to close must not keep the database alive.
    let leaked = sqlx::PgPool::connect(db.url()).await.unwrap();
    sqlx::query("SELECT 1").execute(&leaked).await.unwrap();
    drop(db);
    assert!(!postgres_database_exists(&postgres_url(), &name).await);
    drop(leaked);
}

#[tokio::test]
async fn postgres_database_is_dropped_when_the_test_panics() {
    let db = TestPostgres::new().await;
    let name = db.name().to_owned();
    let outcome = tokio::spawn(async move {
        let _db = db;
        panic!("the test failed");
    })
    .await;
    assert!(outcome.unwrap_err().is_panic());
    assert!(!postgres_database_exists(&postgres_url(), &name).await);
}

#[tokio::test]
async fn postgres_databases_are_distinct() {
    let (a, b) = tokio::join!(TestPostgres::new(), TestPostgres::new());
    assert_ne!(a.name(), b.name());
    tokio::join!(a.cleanup(), b.cleanup());
}

#[tokio::test]
async fn sqlite_file_exists_until_cleanup() {
    let db = TestSqlite::new().await;
    let path = db.path().to_owned();
    assert!(db.url().starts_with("sqlite://"), "{}", db.url());
    sqlx::query("CREATE TABLE t (id INTEGER)")
        .execute(db.pool())
        .await
        .unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    assert!(path.exists());

    db.cleanup().await;
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
}

#[tokio::test]
async fn sqlite_folder_is_removed_on_drop() {
    let db = TestSqlite::new().await;
    let folder = db.path().parent().unwrap().to_owned();
    assert!(folder.exists());
    drop(db);
    assert!(!folder.exists());
}
