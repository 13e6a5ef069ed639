use std::path::Path;
use std::process::Command;
use std::time::Duration;

use seam_testkit::process::ServiceProcess;

fn repo_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

#[tokio::test]
async fn the_binary_serves_health_and_stops_gracefully_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    let config_dir = repo_root().join("config");
    let api = ServiceProcess::start(
        env!("CARGO_BIN_EXE_seam-api"),
        [
            ("SEAM_CONFIG_DIR", config_dir.to_str().unwrap()),
            ("SEAM_DATA_DIR", data.path().to_str().unwrap()),
            ("SEAM_SERVER__PORT", "0"),
            ("SEAM_TELEMETRY__LOG__FORMAT", "json"),
        ],
        "seam-api listening on ",
    );
    let response = reqwest::get(format!("{}/health", api.url())).await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);

    let stderr_before = api.stderr();
    let status = api.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    // The start-up log shows the configuration, never a secret.
    assert!(!stderr_before.contains("password"), "{stderr_before}");
}

#[test]
fn a_bad_setting_exits_2_naming_the_key() {
    let output = Command::new(env!("CARGO_BIN_EXE_seam-api"))
        .env("SEAM_CONFIG_DIR", repo_root().join("config"))
        .env("SEAM_SERVER__PORT", "eighty")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "`server.port`: expected u16, found string \"eighty\" (from environment variable SEAM_SERVER__PORT)"
        ),
        "{stderr}"
    );
}

#[test]
fn secrets_are_redacted_in_the_startup_log() {
    // Points at a closed port so start-up fails quickly after logging the config.
    let output = Command::new(env!("CARGO_BIN_EXE_seam-api"))
        .env("SEAM_CONFIG_DIR", repo_root().join("config"))
        .env("SEAM_DATABASE__BACKEND", "postgres")
        .env(
            "SEAM_DATABASE__URL",
            "postgres://seam:hunter2@127.0.0.1:1/seam",
        )
        .env("SEAM_DATABASE__ACQUIRE_TIMEOUT", "1s")
        .env("SEAM_TELEMETRY__LOG__FORMAT", "json")
        .env("SEAM_SERVER__PORT", "0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("[REDACTED]"), "{all}");
    assert!(!all.contains("hunter2"), "the password leaked:\n{all}");
    assert!(all.contains("cannot start: database (postgres)"), "{all}");
}
