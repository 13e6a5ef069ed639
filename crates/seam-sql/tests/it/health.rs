//! The `"database"` health check.

use seam_core::{HealthCheck, HealthStatus};
use seam_sql::Database;

on_both_backends!(health_is_up_until_the_pool_closes);

async fn health_is_up_until_the_pool_closes(db: &Database) {
    assert_eq!(db.name(), "database");
    db.ping().await.unwrap();
    assert_eq!(db.check().await.status, HealthStatus::Up);

    // A clone shares the pool: closing it takes the check down.
    let clone = db.clone();
    clone.close().await;
    let health = db.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    let detail = health.detail.unwrap();
    assert!(detail.starts_with("unavailable"), "{detail}");
}
