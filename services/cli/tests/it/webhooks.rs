//! `seam webhooks list|replay` on the embedded defaults: the log is filled in process
//! with the same adapters the CLI builds, then read and replayed through the binary.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use seam_repository::{WebhookAttempt, WebhookEventStatus};
use seam_sql::Database;
use seam_wiring::Settings;
use seam_wiring::webhooks::WebhookComponents;

fn seam(data: &Path, args: &[&str]) -> Output {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    Command::new(env!("CARGO_BIN_EXE_seam"))
        .args(args)
        .env("SEAM_CONFIG_DIR", config)
        .env("SEAM_DATA_DIR", data)
        .env_remove("SEAM_ENV")
        .output()
        .expect("seam runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "seam failed ({:?}):\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const BODY: &str = r#"{"id":"evt_cli_dead","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1"}}}"#;

#[tokio::test(flavor = "multi_thread")]
async fn list_filters_by_status_and_replay_requeues_the_stored_payload() {
    let data = tempfile::tempdir().unwrap();
    stdout(&seam(data.path(), &["migrate", "up"]));
    let settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    let database = Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .unwrap();
    let components = WebhookComponents::build(&settings, &database)
        .await
        .unwrap();
    for (id, status) in [
        ("evt_cli_ok", WebhookEventStatus::Processed),
        ("evt_cli_dead", WebhookEventStatus::Dead),
    ] {
        components
            .events
            .record(&WebhookAttempt {
                provider: "stripe".into(),
                event_id: id.into(),
                event_type: "payment_intent.succeeded".into(),
                status,
                received_at: chrono::Utc::now(),
                finished_at: chrono::Utc::now(),
                error: (status == WebhookEventStatus::Dead)
                    .then(|| "invalid: bad amount".to_owned()),
                processing_ms: 2,
                payload: BODY.into(),
            })
            .await
            .unwrap();
    }

    let all = stdout(&seam(data.path(), &["webhooks", "list"]));
    assert!(all.starts_with("PROVIDER"), "{all}");
    assert_eq!(all.lines().count(), 3, "{all}");
    let dead = stdout(&seam(
        data.path(),
        &["webhooks", "list", "--status", "dead"],
    ));
    let rows: Vec<&str> = dead.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{dead}");
    assert!(
        rows[0].contains("evt_cli_dead") && rows[0].ends_with("invalid: bad amount"),
        "{dead}"
    );
    let bad = seam(data.path(), &["webhooks", "list", "--status", "bogus"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");

    let replayed = stdout(&seam(data.path(), &["webhooks", "replay", "evt_cli_dead"]));
    assert_eq!(replayed, "replayed stripe evt_cli_dead\n");
    let delivery = components
        .queue
        .consumer
        .receive("webhooks", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the replay is on the webhooks queue");
    let message: seam_webhooks::WebhookMessage = delivery.decode().unwrap();
    assert!(message.replay);
    assert_eq!(message.body, BODY);
    delivery.ack().await.unwrap();
    let missing = seam(data.path(), &["webhooks", "replay", "evt_none"]);
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    database.close().await;
}
