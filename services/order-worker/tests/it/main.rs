//! End-to-end tests of the order worker: built on port 0, and the real binary; and
//! the whole order flow with the API.

mod broker_restart;
mod crash;
mod dlq;
mod email_events;
mod flow;
mod webhooks;

use std::path::Path;
use std::time::Duration;

use seam_order_worker::Worker;
use seam_testkit::process::ServiceProcess;
use seam_wiring::Settings;
use serde_json::Value;

/// A client for the API started with `settings`: every request carries a bearer token
/// from the issuer those settings configure (the API protects `/v1/orders`).
pub(crate) fn api_client(settings: &Settings) -> reqwest::Client {
    let token = seam_wiring::auth::issue_token(
        settings,
        &seam_wiring::auth::TokenRequest::new("order-worker-tests"),
    )
    .expect("a token is issued");
    let mut value: reqwest::header::HeaderValue = format!(
        "Bearer {}",
        seam_core::ExposeSecret::expose_secret(&token.token)
    )
    .parse()
    .expect("a token is a header value");
    value.set_sensitive(true);
    reqwest::Client::builder()
        .default_headers(reqwest::header::HeaderMap::from_iter([(
            reqwest::header::AUTHORIZATION,
            value,
        )]))
        .build()
        .expect("the HTTP client builds")
}

fn settings(data_dir: &Path) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings
}

#[tokio::test]
async fn serves_health_and_metrics_and_stops_when_told() {
    seam_testkit::init_test_logging();
    let data = tempfile::tempdir().unwrap();
    let worker = Worker::build(settings(data.path())).await.unwrap();
    let base = format!("http://{}", worker.local_addr());
    let shutdown = worker.shutdown_token();
    let task = tokio::spawn(worker.run_until_stopped());

    let health: Value = reqwest::get(format!("{base}/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "up", "{health}");
    assert_eq!(health["checks"][0]["name"], "database");
    let ready = reqwest::get(format!("{base}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);

    shutdown.cancel();
    task.await.unwrap().unwrap();
    // Stopped: nothing listens any more.
    assert!(reqwest::get(format!("{base}/health/live")).await.is_err());
}

#[tokio::test]
async fn the_binary_stops_gracefully_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let worker = ServiceProcess::start(
        env!("CARGO_BIN_EXE_seam-order-worker"),
        [
            ("SEAM_CONFIG_DIR", config_dir.to_str().unwrap()),
            ("SEAM_DATA_DIR", data.path().to_str().unwrap()),
            ("SEAM_WORKER__PORT", "0"),
        ],
        "seam-order-worker health and metrics on ",
    );
    let live = reqwest::get(format!("{}/health/live", worker.url()))
        .await
        .unwrap();
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    let status = worker.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
}
