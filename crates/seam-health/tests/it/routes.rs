use axum::body::Body;
use http::{Request, StatusCode};
use seam_core::{Health, ManualClock};
use seam_health::{CheckOptions, HealthConfig, HealthRegistry};
use serde_json::Value;
use tower::ServiceExt;

use crate::Scripted;

async fn get(registry: &HealthRegistry, path: &str) -> (StatusCode, Value) {
    let response = seam_health::router::<()>(registry.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn all_up() {
    let clock = ManualClock::new();
    let registry = HealthRegistry::new(HealthConfig::default(), clock.shared());
    registry.register(Scripted::new("database", &clock));
    registry.check_all().await;

    assert_eq!(
        get(&registry, "/health/live").await,
        (StatusCode::OK, serde_json::json!({"status": "up"}))
    );
    assert_eq!(
        get(&registry, "/health/ready").await,
        (StatusCode::OK, serde_json::json!({"status": "up"}))
    );
    let (status, body) = get(&registry, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "up");
    let check = &body["checks"][0];
    assert_eq!(check["name"], "database");
    assert_eq!(check["status"], "up");
    assert_eq!(check["critical"], true);
    assert!(check["latency_ms"].is_number());
    assert!(check["checked_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn critical_dependency_down() {
    let clock = ManualClock::new();
    let registry = HealthRegistry::new(HealthConfig::default(), clock.shared());
    let database = Scripted::new("database", &clock);
    database.answer(Health::down("connection refused"));
    registry.register(database);
    registry.register_with(Scripted::new("cache", &clock), CheckOptions::non_critical());
    registry.check_all().await;

    // Liveness does not depend on dependencies: restarting would not fix them.
    assert_eq!(get(&registry, "/health/live").await.0, StatusCode::OK);
    assert_eq!(
        get(&registry, "/health/ready").await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"status": "down", "failing": ["database"]})
        )
    );
    let (status, body) = get(&registry, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["checks"][1]["name"], "database");
    assert_eq!(body["checks"][1]["last_error"], "connection refused");
}

#[tokio::test]
async fn non_critical_down_is_degraded_but_ready() {
    let clock = ManualClock::new();
    let registry = HealthRegistry::new(HealthConfig::default(), clock.shared());
    let cache = Scripted::new("cache", &clock);
    cache.answer(Health::down("redis unreachable"));
    registry.register_with(cache, CheckOptions::non_critical());
    registry.check_all().await;

    assert_eq!(
        get(&registry, "/health/ready").await,
        (StatusCode::OK, serde_json::json!({"status": "degraded"}))
    );
    let (status, body) = get(&registry, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "degraded");
}
