//! Applying, reverting and inspecting migrations.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use seam_sql::{Database, Error, MIGRATIONS_TABLE, known_versions};

use crate::support::{SCHEMA_TABLES, table_exists};

on_both_backends!(
    up_is_idempotent_and_down_undoes_everything,
    down_to_a_version_keeps_the_older_ones,
    down_to_an_unknown_version_is_refused,
    edited_migration_is_a_clear_checksum_error,
    migration_from_a_newer_release_is_refused,
);

async fn up_is_idempotent_and_down_undoes_everything(db: &Database) {
    let all = known_versions(db.backend());
    assert_eq!(all[..2], [1, 2], "0001 and 0002 come first");

    // Status on a database never migrated: all pending, and reading created nothing.
    let status = db.migration_status().await.unwrap();
    assert_eq!(status.len(), all.len());
    assert!(
        status
            .iter()
            .all(|m| !m.applied && m.applied_at.is_none() && m.checksum_ok)
    );
    assert!(!table_exists(db, MIGRATIONS_TABLE).await);

    assert_eq!(db.migrate_up().await.unwrap(), all);
    let status = db.migration_status().await.unwrap();
    assert_eq!(
        status
            .iter()
            .take(3)
            .map(|m| (m.version, m.description.as_str()))
            .collect::<Vec<_>>(),
        vec![(1, "users"), (2, "products inventory"), (3, "orders")]
    );
    for migration in &status {
        assert!(migration.applied, "{migration:?}");
        assert!(migration.checksum_ok, "{migration:?}");
        assert!(migration.known, "{migration:?}");
        let applied_at = migration.applied_at.expect("applied_at");
        let age = chrono::Utc::now() - applied_at;
        assert!(
            age.num_minutes().abs() < 5,
            "applied_at {applied_at} is not now"
        );
    }
    for table in SCHEMA_TABLES {
        assert!(table_exists(db, table).await, "{table} missing after up");
    }
    db.ensure_migrated().await.unwrap();

    // Running it again is a no-op.
    assert_eq!(db.migrate_up().await.unwrap(), Vec::<i64>::new());
    assert_eq!(db.migration_status().await.unwrap(), status);

    // Down to zero, newest first: every table is gone, and the history is empty.
    let newest_first: Vec<i64> = all.iter().rev().copied().collect();
    assert_eq!(db.migrate_down(None).await.unwrap(), newest_first);
    for table in SCHEMA_TABLES {
        assert!(!table_exists(db, table).await, "{table} left after down");
    }
    let status = db.migration_status().await.unwrap();
    assert!(status.iter().all(|m| !m.applied && m.applied_at.is_none()));
    assert_eq!(db.migrate_down(None).await.unwrap(), Vec::<i64>::new());
    assert!(matches!(
        db.ensure_migrated().await,
        Err(Error::PendingMigrations { pending }) if pending == all
    ));

    // And up again works from there.
    assert_eq!(db.migrate_up().await.unwrap(), all);
    for table in SCHEMA_TABLES {
        assert!(
            table_exists(db, table).await,
            "{table} missing after up again"
        );
    }
    // `Some(0)` means everything too.
    assert_eq!(db.migrate_down(Some(0)).await.unwrap(), newest_first);
}

async fn down_to_a_version_keeps_the_older_ones(db: &Database) {
    db.migrate_up().await.unwrap();
    let newer_first: Vec<i64> = known_versions(db.backend())[1..]
        .iter()
        .rev()
        .copied()
        .collect();
    assert_eq!(db.migrate_down(Some(1)).await.unwrap(), newer_first);
    assert!(table_exists(db, "users").await);
    assert!(!table_exists(db, "products").await);
    assert!(!table_exists(db, "inventory").await);
    let applied: Vec<(i64, bool)> = db
        .migration_status()
        .await
        .unwrap()
        .iter()
        .map(|m| (m.version, m.applied))
        .collect();
    assert_eq!(applied[0], (1, true));
    assert!(
        applied[1..].iter().all(|(_, applied)| !applied),
        "{applied:?}"
    );

    // Already there: nothing to do.
    assert_eq!(db.migrate_down(Some(1)).await.unwrap(), Vec::<i64>::new());
    assert_eq!(
        db.migrate_up().await.unwrap(),
        known_versions(db.backend())[1..].to_vec()
    );
}

async fn down_to_an_unknown_version_is_refused(db: &Database) {
    db.migrate_up().await.unwrap();
    let all = known_versions(db.backend());
    let past_the_newest = all.last().unwrap() + 1;
    for target in [4242, -1, past_the_newest] {
        let error = db.migrate_down(Some(target)).await.unwrap_err();
        assert!(
            matches!(&error, Error::UnknownVersion { version, known } if *version == target && known == &all),
            "{error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::Invalid);
        assert!(
            error.to_string().contains("known versions are 1, 2"),
            "{error}"
        );
    }
    // Nothing was reverted.
    assert!(
        db.migration_status()
            .await
            .unwrap()
            .iter()
            .all(|m| m.applied)
    );
}

async fn edited_migration_is_a_clear_checksum_error(db: &Database) {
    db.migrate_up().await.unwrap();
    let original = set_checksum(db, 1, vec![0xde, 0xad, 0xbe, 0xef]).await;

    let error = db.migrate_up().await.unwrap_err();
    assert!(
        matches!(&error, Error::ChecksumMismatch { version: 1, description } if description == "users"),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Internal);
    let message = error.to_string();
    for expected in [
        "migration 1 (users)",
        "checksum mismatch",
        "restore the original file",
        "new migration",
    ] {
        assert!(
            message.contains(expected),
            "{expected:?} missing from: {message}"
        );
    }

    // Reverting is refused too: a down script is only trusted with its applied up script.
    assert!(matches!(
        db.migrate_down(None).await,
        Err(Error::ChecksumMismatch { version: 1, .. })
    ));
    assert!(matches!(
        db.ensure_migrated().await,
        Err(Error::ChecksumMismatch { version: 1, .. })
    ));
    assert!(matches!(
        db.seed().await,
        Err(Error::ChecksumMismatch { version: 1, .. })
    ));
    let status = db.migration_status().await.unwrap();
    let checksums_ok: Vec<(i64, bool)> =
        status.iter().map(|m| (m.version, m.checksum_ok)).collect();
    let expected: Vec<(i64, bool)> = known_versions(db.backend())
        .into_iter()
        .map(|version| (version, version != 1))
        .collect();
    assert_eq!(checksums_ok, expected);
    // Nothing was reverted.
    assert!(table_exists(db, "users").await && table_exists(db, "inventory").await);

    // Once the file matches again, migrating works on the same pool: the failed runs
    // released the migration lock.
    set_checksum(db, 1, original).await;
    let rerun = tokio::time::timeout(Duration::from_secs(10), db.migrate_up())
        .await
        .expect("the migration lock was left held");
    assert_eq!(rerun.unwrap(), Vec::<i64>::new());
}

async fn migration_from_a_newer_release_is_refused(db: &Database) {
    db.migrate_up().await.unwrap();
    record_foreign_migration(db, 999, "from the future").await;
    let error = db.migrate_up().await.unwrap_err();
    assert!(
        matches!(error, Error::UnknownAppliedMigration { version: 999 }),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer release"), "{error}");
    let last = db.migration_status().await.unwrap().pop().unwrap();
    assert_eq!(
        (last.version, last.known, last.checksum_ok),
        (999, false, false)
    );
    assert_eq!(last.description, "from the future");
}

/// Records a migration as applied that this build does not have, as a newer release would.
async fn record_foreign_migration(db: &Database, version: i64, description: &str) {
    let checksum = vec![0_u8; 48];
    if let Some(pool) = db.as_postgres() {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES ($1, $2, TRUE, $3, 0)",
        )
        .bind(version)
        .bind(description)
        .bind(checksum)
        .execute(pool)
        .await
        .unwrap();
    } else {
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (?1, ?2, TRUE, ?3, 0)",
        )
        .bind(version)
        .bind(description)
        .bind(checksum)
        .execute(db.as_sqlite().unwrap())
        .await
        .unwrap();
    }
}

/// Overwrites the recorded checksum of an applied migration, as if its file had been
/// edited after it was applied; returns the previous checksum.
async fn set_checksum(db: &Database, version: i64, checksum: Vec<u8>) -> Vec<u8> {
    if let Some(pool) = db.as_postgres() {
        let previous =
            sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(pool)
                .await
                .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2")
            .bind(checksum)
            .bind(version)
            .execute(pool)
            .await
            .unwrap();
        previous
    } else {
        let pool = db.as_sqlite().unwrap();
        let previous =
            sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = ?1")
                .bind(version)
                .fetch_one(pool)
                .await
                .unwrap();
        sqlx::query("UPDATE _sqlx_migrations SET checksum = ?1 WHERE version = ?2")
            .bind(checksum)
            .bind(version)
            .execute(pool)
            .await
            .unwrap();
        previous
    }
}

/// Two instances starting together against one Postgres database: the migration lock
/// lets one apply everything, and the other finds nothing left to do.
#[tokio::test]
async fn concurrent_postgres_migrations_apply_once() {
    let test = crate::support::TestDb::postgres().await;
    let other = Database::from_postgres(test.db.as_postgres().unwrap().clone());
    let (a, b) = tokio::join!(test.db.migrate_up(), other.migrate_up());
    let mut outcomes = vec![a.unwrap(), b.unwrap()];
    outcomes.sort();
    assert_eq!(
        outcomes,
        vec![vec![], known_versions(seam_sql::Backend::Postgres)]
    );
    test.cleanup().await;
}
