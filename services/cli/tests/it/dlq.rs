//! `seam dlq`: list, show, replay and purge dead letters of the embedded SQL queue.
//!
//! The dead letters are made in process with the same adapters the CLI builds
//! (`seam_wiring::Adapters`): a message published to `order-emails`, received and
//! dead-lettered with a reason.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use seam_orders::{EMAILS_QUEUE, ORDERS_QUEUE};
use seam_sql::Database;
use seam_wiring::{Adapters, Settings};
use serde_json::json;

/// Runs `seam` with `args` on the embedded defaults under `data`.
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

/// Publishes an `order.confirmed` message for `order_id`, takes it off the queue and
/// dead-letters it with `reason`; returns its message id.
async fn dead_letter(adapters: &Adapters, order_id: &str, reason: &str) -> String {
    let message_id = uuid::Uuid::now_v7();
    // The envelope's wire format, as every adapter stores it.
    let envelope = serde_json::from_value(json!({
        "message_id": message_id,
        "message_type": "order.confirmed",
        "schema_version": 1,
        "correlation_id": message_id,
        "occurred_at": "2026-11-25T12:00:00Z",
        "payload": {"order_id": order_id, "status": "confirmed"},
    }))
    .unwrap();
    adapters
        .queue
        .publisher
        .publish("order.confirmed", &envelope)
        .await
        .unwrap();
    let delivery = adapters
        .queue
        .consumer
        .receive(EMAILS_QUEUE, Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the message is on order-emails");
    assert_eq!(delivery.envelope().message_id, message_id);
    delivery.dead_letter(reason).await.unwrap();
    message_id.to_string()
}

/// The dead-letter ids `seam dlq list` prints (first column, header skipped).
fn listed_ids(list: &str) -> Vec<String> {
    list.lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_show_replay_and_purge_dead_letters() {
    let data = tempfile::tempdir().unwrap();
    stdout(&seam(data.path(), &["migrate", "up"]));
    let settings = Settings {
        data_dir: data.path().to_path_buf(),
        ..Settings::default()
    };
    let database = Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .unwrap();
    let adapters = Adapters::build(&settings, &database).await.unwrap();

    let list = stdout(&seam(data.path(), &["dlq", "list"]));
    assert!(list.starts_with("ID "), "{list}");
    assert_eq!(listed_ids(&list), Vec::<String>::new(), "{list}");

    let order_id = uuid::Uuid::now_v7().to_string();
    let message_id = dead_letter(
        &adapters,
        &order_id,
        "gave up after 2 deliveries: smtp down",
    )
    .await;
    let second = dead_letter(&adapters, &order_id, "undecodable").await;

    let list = stdout(&seam(data.path(), &["dlq", "list"]));
    let ids = listed_ids(&list);
    assert_eq!(ids.len(), 2, "{list}");
    assert!(
        list.lines()
            .nth(1)
            .is_some_and(|row| row.contains(EMAILS_QUEUE)
                && row.ends_with("gave up after 2 deliveries: smtp down")),
        "oldest first, with queue and reason:\n{list}"
    );
    let only_orders = stdout(&seam(
        data.path(),
        &["dlq", "list", "--queue", ORDERS_QUEUE],
    ));
    assert!(listed_ids(&only_orders).is_empty(), "{only_orders}");

    let shown = stdout(&seam(data.path(), &["dlq", "show", &ids[0]]));
    let shown: serde_json::Value = serde_json::from_str(&shown).expect("show prints JSON");
    assert_eq!(shown["id"], ids[0].as_str());
    assert_eq!(shown["queue"], EMAILS_QUEUE);
    assert_eq!(shown["reason"], "gave up after 2 deliveries: smtp down");
    assert_eq!(shown["envelope"]["message_id"], message_id.as_str());
    assert_eq!(shown["envelope"]["payload"]["order_id"], order_id.as_str());

    let missing = seam(
        data.path(),
        &["dlq", "show", &uuid::Uuid::now_v7().to_string()],
    );
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    let not_an_id = seam(data.path(), &["dlq", "show", "nope"]);
    assert_eq!(not_an_id.status.code(), Some(2), "{not_an_id:?}");

    // One by id, then the rest with --all: back on the queue, gone from the list.
    let replayed = stdout(&seam(data.path(), &["dlq", "replay", &ids[0]]));
    assert_eq!(replayed, format!("replayed {}\n", ids[0]));
    let again = seam(data.path(), &["dlq", "replay", &ids[0]]);
    assert_eq!(again.status.code(), Some(1), "a dead letter replays once");
    let all = stdout(&seam(data.path(), &["dlq", "replay", "--all"]));
    assert!(
        all.contains(&format!("{EMAILS_QUEUE}: replayed 1")),
        "{all}"
    );
    assert!(
        all.contains(&format!("{ORDERS_QUEUE}: replayed 0")),
        "{all}"
    );
    assert!(listed_ids(&stdout(&seam(data.path(), &["dlq", "list"]))).is_empty());
    let mut back = Vec::new();
    while let Some(delivery) = adapters
        .queue
        .consumer
        .receive(EMAILS_QUEUE, Duration::from_millis(200))
        .await
        .unwrap()
    {
        back.push(delivery.envelope().message_id.to_string());
        delivery.ack().await.unwrap();
    }
    back.sort();
    let mut expected = vec![message_id, second];
    expected.sort();
    assert_eq!(back, expected, "both messages are back on order-emails");

    // Purge deletes for good.
    dead_letter(&adapters, &order_id, "poison").await;
    let purged = stdout(&seam(
        data.path(),
        &["dlq", "purge", "--queue", EMAILS_QUEUE],
    ));
    assert_eq!(purged, format!("{EMAILS_QUEUE}: purged 1\n"));
    assert!(listed_ids(&stdout(&seam(data.path(), &["dlq", "list"]))).is_empty());

    drop(adapters);
    database.close().await;
}
