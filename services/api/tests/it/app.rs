use reqwest::StatusCode;
use seam_testkit::TestPostgres;
use seam_wiring::DatabaseBackend;
use serde_json::Value;

use crate::{TestApp, sqlite_settings};

#[tokio::test]
async fn health_endpoints_on_the_embedded_defaults() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(sqlite_settings(data.path())).await;

    let live = app.get("/health/live").await;
    assert_eq!(live.status(), StatusCode::OK);

    let ready = app.get("/health/ready").await;
    assert_eq!(ready.status(), StatusCode::OK);

    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let body: Value = health.json().await.unwrap();
    assert_eq!(body["status"], "up");
    // Checks are sorted by name (`breaker:payments` comes first).
    let database = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|check| check["name"] == "database")
        .expect("the database check is reported");
    assert_eq!(database["status"], "up");

    // The SQLite file was created under the configured data folder.
    assert!(data.path().join("seam.db").exists());
    app.stop().await;
}

#[tokio::test]
async fn metrics_are_served_in_prometheus_text() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(sqlite_settings(data.path())).await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    // The first health round ran at start-up and recorded its gauge.
    assert!(
        text.contains("seam_health_status{check=\"database\"} 0"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_are_problem_json_with_a_request_id() {
    let data = tempfile::tempdir().unwrap();
    let app = TestApp::spawn(sqlite_settings(data.path())).await;

    let response = app.get("/no/such/thing").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 404);
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body["detail"], "no route for /no/such/thing");

    // A request id sent by the client is kept.
    let response = app
        .client
        .get(app.url("/health/live"))
        .header("x-request-id", "req-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123");

    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    app.stop().await;
}

#[tokio::test]
async fn health_reports_the_real_postgres() {
    let database = TestPostgres::new().await;
    let data = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(data.path());
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some(database.url().into());
    let app = TestApp::spawn(settings).await;

    let body: Value = app.get("/health").await.json().await.unwrap();
    assert_eq!(body["status"], "up", "{body}");
    assert!(
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|check| check["name"] == "database"),
        "{body}"
    );
    // No SQLite file: the configured backend was used.
    assert!(!data.path().join("seam.db").exists());
    app.stop().await;
    database.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_database_fails_start_up_with_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(data.path());
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some("postgres://postgres@127.0.0.1:1/nowhere".into());
    settings.database.acquire_timeout = std::time::Duration::from_secs(2);
    let error = seam_api::Application::build(settings)
        .await
        .expect_err("start-up must fail");
    let message = error.to_string();
    assert!(message.starts_with("database (postgres): "), "{message}");
    assert_eq!(
        seam_core::Classify::kind(&error),
        seam_core::ErrorKind::Unavailable
    );
}

#[tokio::test]
async fn a_port_in_use_fails_start_up_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(data.path());
    settings.server.port = taken.local_addr().unwrap().port();
    let error = seam_api::Application::build(settings)
        .await
        .expect_err("start-up must fail");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen on {}", taken.local_addr().unwrap())),
        "{error}"
    );
}
