//! The `/health` routes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use seam_core::HealthStatus;
use serde_json::json;

use crate::registry::HealthRegistry;

/// `GET /health/live`, `GET /health/ready` and `GET /health` over `registry`.
///
/// The answers come from the registry's latest results; no request waits on a
/// dependency.
pub fn router<S: Clone + Send + Sync + 'static>(registry: HealthRegistry) -> Router<S> {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health", get(detail))
        .with_state(registry)
}

async fn live() -> Response {
    Json(json!({ "status": "up" })).into_response()
}

async fn ready(State(registry): State<HealthRegistry>) -> Response {
    let report = registry.report();
    if registry.is_ready() {
        Json(json!({ "status": report.status })).into_response()
    } else {
        let failing: Vec<&str> = report
            .checks
            .iter()
            .filter(|check| check.critical && check.status == HealthStatus::Down)
            .map(|check| check.name.as_str())
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "down", "failing": failing })),
        )
            .into_response()
    }
}

async fn detail(State(registry): State<HealthRegistry>) -> Response {
    let report = registry.report();
    let code = if report.status == HealthStatus::Down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (code, Json(report)).into_response()
}
