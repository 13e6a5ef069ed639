//! Dead letters end to end: with the SMTP server unreachable, the worker binary retries
//! an order's e-mail, then dead-letters it; once a worker can reach the SMTP sink, a
//! replay delivers it, once.
//!
//! The dead letters are inspected and replayed in process with the adapters `seam dlq`
//! uses (`seam_wiring::Adapters`): the `seam` binary belongs to another crate, so Cargo
//! does not build it for these tests. The command line itself is tested in
//! `services/cli/tests/it/dlq.rs`.

use std::path::PathBuf;
use std::time::Duration;

use seam_orders::EMAILS_QUEUE;
use seam_sql::DEMO_PRODUCTS;

use crate::crash::{Api, emails_per_order, settings, start_worker};

fn sink_maildir() -> PathBuf {
    std::env::var_os("SEAM_TEST_SMTP_MAILDIR")
        .map_or_else(|| PathBuf::from("/tmp/seam-smtp-sink"), PathBuf::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_dead_lettered_while_smtp_is_down_is_delivered_once_after_replay() {
    seam_testkit::require_service("smtp", "127.0.0.1:2525");
    let data = tempfile::tempdir().unwrap();
    let settings = settings(data.path());
    let api = Api::start(settings.clone()).await;
    let adapters = seam_wiring::Adapters::build(&settings, &api.database)
        .await
        .expect("adapters build");
    let letters = adapters.queue.dead_letters.clone();

    // Nothing listens on port 1: every attempt is refused (Transient); two attempts,
    // then the e-mail is dead-lettered.
    let down = start_worker(
        data.path(),
        &[
            ("SEAM_EMAIL__BACKEND", "smtp"),
            ("SEAM_EMAIL__SMTP__HOST", "127.0.0.1"),
            ("SEAM_EMAIL__SMTP__PORT", "1"),
            ("SEAM_QUEUE__MAX_ATTEMPTS", "2"),
        ],
    );
    let order_id = api.place(DEMO_PRODUCTS[0].sku, 1).await;

    let mut dead = Vec::new();
    for _ in 0..300 {
        dead = letters.list(EMAILS_QUEUE, 10).await.unwrap();
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stderr = down.stderr();
    let exit = tokio::task::spawn_blocking(move || down.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(exit.success(), "the first worker exits cleanly: {exit:?}");
    assert_eq!(
        dead.len(),
        1,
        "one dead letter within 30 s; worker stderr:\n{stderr}"
    );
    let letter = &dead[0];
    assert_eq!(letter.queue, EMAILS_QUEUE);
    assert_eq!(letter.attempts, 2, "{letter:?}");
    assert!(
        letter.reason.contains("gave up after 2 deliveries"),
        "{}",
        letter.reason
    );
    assert!(
        letter.reason.contains("127.0.0.1:1"),
        "the reason names the unreachable server: {}",
        letter.reason
    );
    let shown = letters.get(letter.id).await.unwrap();
    assert_eq!(shown.envelope.message_type, "order.confirmed");
    let envelope = serde_json::to_string(&shown.envelope).unwrap();
    assert!(envelope.contains(&order_id), "{envelope}");
    let status: String = seam_sql::sqlx::query_scalar("SELECT status FROM orders WHERE id = ?1")
        .bind(&order_id)
        .fetch_one(api.sqlite())
        .await
        .unwrap();
    assert_eq!(status, "confirmed", "the order itself went through");
    assert!(
        !emails_per_order(&sink_maildir()).contains_key(&order_id),
        "nothing reached the sink yet"
    );

    // A worker that reaches the SMTP sink, then the replay.
    let up = start_worker(data.path(), &[("SEAM_EMAIL__BACKEND", "smtp")]);
    assert_eq!(letters.replay_all(EMAILS_QUEUE).await.unwrap(), 1);
    for _ in 0..300 {
        if emails_per_order(&sink_maildir()).contains_key(&order_id)
            && api.count("SELECT count(*) FROM queue_messages").await == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, for a duplicate to show up if there is one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stderr = up.stderr();
    let exit = tokio::task::spawn_blocking(move || up.terminate(Duration::from_secs(30)))
        .await
        .unwrap();
    assert!(exit.success(), "the second worker exits cleanly: {exit:?}");
    assert_eq!(
        emails_per_order(&sink_maildir()).get(&order_id),
        Some(&1),
        "exactly one e-mail for {order_id} in {}; worker stderr:\n{stderr}",
        sink_maildir().display()
    );
    assert!(letters.list(EMAILS_QUEUE, 10).await.unwrap().is_empty());
    assert_eq!(api.count("SELECT count(*) FROM queue_messages").await, 0);

    drop(adapters);
    api.stop().await;
}
