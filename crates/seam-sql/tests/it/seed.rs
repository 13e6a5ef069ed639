//! Demo data: loaded once, however often seeding runs.

use seam_core::{Classify, ErrorKind};
use seam_sql::{DEMO_CUSTOMER_EMAIL, DEMO_PRODUCTS, Database, Error, SeedCount};

use crate::support::{execute, scalar};

on_both_backends!(
    seeding_twice_changes_nothing,
    seeding_before_migrating_is_refused
);

async fn seeding_twice_changes_nothing(db: &Database) {
    db.migrate_up().await.unwrap();
    let products = DEMO_PRODUCTS.len() as u64;

    let first = db.seed().await.unwrap();
    assert_eq!(
        first.products,
        SeedCount {
            inserted: products,
            existing: 0
        }
    );
    assert_eq!(
        first.inventory,
        SeedCount {
            inserted: products,
            existing: 0
        }
    );
    assert_eq!(
        first.users,
        SeedCount {
            inserted: 1,
            existing: 0
        }
    );

    let expected_stock: i64 = DEMO_PRODUCTS.iter().map(|p| i64::from(p.on_hand)).sum();
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM products").await,
        products as i64
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM inventory").await,
        products as i64
    );
    assert_eq!(
        scalar(db, "SELECT CAST(SUM(on_hand) AS BIGINT) FROM inventory").await,
        expected_stock
    );
    assert_eq!(
        scalar(db, "SELECT CAST(SUM(reserved) AS BIGINT) FROM inventory").await,
        0
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM products WHERE currency = 'EUR' AND price_minor > 0"
        )
        .await,
        products as i64
    );
    assert_eq!(
        scalar(
            db,
            "SELECT COUNT(*) FROM users WHERE email = 'ada@example.com' AND version = 1"
        )
        .await,
        1
    );
    assert_eq!(DEMO_CUSTOMER_EMAIL, "ada@example.com");

    // Stock changed by demo orders survives a second seed.
    execute(
        db,
        "UPDATE inventory SET on_hand = 1 WHERE sku = 'MUG-SEAM'",
    )
    .await
    .unwrap();

    let second = db.seed().await.unwrap();
    assert_eq!(second.inserted(), 0);
    assert_eq!(second.existing(), 2 * products + 1);
    assert_eq!(
        second.users,
        SeedCount {
            inserted: 0,
            existing: 1
        }
    );
    assert_eq!(
        scalar(db, "SELECT COUNT(*) FROM products").await,
        products as i64
    );
    assert_eq!(scalar(db, "SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(
        scalar(
            db,
            "SELECT CAST(on_hand AS BIGINT) FROM inventory WHERE sku = 'MUG-SEAM'"
        )
        .await,
        1
    );
}

async fn seeding_before_migrating_is_refused(db: &Database) {
    let error = db.seed().await.unwrap_err();
    assert!(
        matches!(&error, Error::PendingMigrations { pending } if pending == &seam_sql::known_versions(db.backend())),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("seam migrate up"), "{error}");
}
