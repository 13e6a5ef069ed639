//! Crash safety: RabbitMQ is restarted in the middle of a burst of orders; API and
//! worker (in this process) reconnect and finish the work with nothing lost.
//!
//! The shared broker (127.0.0.1:5672) serves other tests at the same time, so this test
//! restarts a private node of its own: `scripts/rabbitmq-private.sh` (127.0.0.1:5673).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use seam_order_worker::Worker;
use seam_sql::DEMO_PRODUCTS;
use seam_sql::sqlx::PgPool;
use seam_testkit::TestPostgres;
use seam_wiring::{DatabaseBackend, EmailBackend, QueueBackend};
use tokio_util::sync::CancellationToken;

use crate::crash::{Api, emails_by_order, place_many, settings};

/// The private node's AMQP URL (see the script).
const PRIVATE_AMQP: &str = "amqp://guest:guest@127.0.0.1:5673/%2f";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbitmq-private.sh")
}

/// Runs `scripts/rabbitmq-private.sh <command>`; panics with its output when it fails.
fn private_rabbitmq(command: &str) {
    let output = Command::new("bash")
        .arg(script())
        .arg(command)
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", script().display()));
    assert!(
        output.status.success(),
        "`scripts/rabbitmq-private.sh {command}` failed ({}): this test needs a private \
         RabbitMQ node on 127.0.0.1:5673 (rabbitmq-server and rabbitmqctl installed, run \
         as root or rabbitmq).\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

async fn private_rabbitmq_async(command: &'static str) {
    tokio::task::spawn_blocking(move || private_rabbitmq(command))
        .await
        .unwrap();
}

/// The private node, started; stopped when dropped (also when the test panics).
struct PrivateNode;

impl PrivateNode {
    fn start() -> Self {
        private_rabbitmq("start");
        Self
    }
}

impl Drop for PrivateNode {
    fn drop(&mut self) {
        let stopped = Command::new("bash").arg(script()).arg("stop").status();
        if !matches!(stopped, Ok(status) if status.success()) {
            eprintln!("could not stop the private RabbitMQ node: {stopped:?}");
        }
    }
}

const DECIDED: &str = "SELECT count(*) FROM orders WHERE status <> 'pending'";
const UNPUBLISHED: &str = "SELECT count(*) FROM outbox WHERE published_at IS NULL";

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    seam_sql::sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_flow_survives_a_rabbitmq_restart() {
    const BURST: usize = 100;
    const AFTER: usize = 10;
    const ORDERS: usize = BURST + AFTER;
    let node = PrivateNode::start();
    let database = TestPostgres::new().await;
    let data = tempfile::tempdir().unwrap();
    let mut settings = settings(data.path());
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some(database.url().into());
    settings.queue.backend = QueueBackend::Amqp;
    settings.queue.amqp.url = PRIVATE_AMQP.into();
    // The private node keeps its data between runs: names of this run's own.
    let unique = uuid::Uuid::now_v7().simple().to_string();
    settings.queue.amqp.exchange = format!("seam.test.{unique}");
    settings.queue.amqp.queue_prefix = format!("test.{unique}.");
    settings.queue.poll_interval = Duration::from_millis(50);
    settings.email.backend = EmailBackend::File;
    let mail_dir = settings.email_dir();
    let amqp = &settings.queue.amqp;
    let mut topology = seam_queue_amqp::AmqpQueueConfig::new(PRIVATE_AMQP.to_owned())
        .with_bindings(seam_orders::bindings());
    topology.exchange = amqp.exchange.clone();
    topology.queue_prefix = amqp.queue_prefix.clone();

    let api = Arc::new(Api::start(settings.clone()).await);
    let pool = api
        .database
        .as_postgres()
        .expect("the test database")
        .clone();
    let worker = Worker::build(settings).await.expect("worker builds");
    let stop_worker: CancellationToken = worker.shutdown_token();
    let worker = tokio::spawn(worker.run_until_stopped());

    // The burst, and while it is being processed, the restart.
    let burst = {
        let api = Arc::clone(&api);
        tokio::spawn(async move { place_many(&api, 0, BURST, 8).await })
    };
    for _ in 0..600 {
        if count(&pool, DECIDED).await >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let decided_at_stop = count(&pool, DECIDED).await;
    let emails_at_stop: usize = emails_by_order(&mail_dir).values().map(Vec::len).sum();
    let stopping_at = Utc::now();
    private_rabbitmq_async("stop").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    private_rabbitmq_async("start").await;
    let back_at = Utc::now();
    let mut placed = burst.await.unwrap();
    let summary = format!(
        "broker stopped at {stopping_at} ({decided_at_stop} decided, {emails_at_stop} \
         e-mails), back at {back_at}"
    );

    // A few more once it is back.
    placed.extend(place_many(&api, BURST, AFTER, 2).await);
    assert_eq!(placed.len(), ORDERS);

    // Bounded: 120 s.
    let mut finished = false;
    for _ in 0..1200 {
        let emails = emails_by_order(&mail_dir);
        if count(&pool, DECIDED).await == ORDERS as i64
            && placed.keys().all(|id| emails.contains_key(id))
            && count(&pool, UNPUBLISHED).await == 0
        {
            finished = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more, for a duplicate to show up if there is one.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop_worker.cancel();
    worker.await.unwrap().unwrap();

    let statuses: HashMap<String, String> =
        seam_sql::sqlx::query_as::<_, (String, String)>("SELECT id::text, status FROM orders")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let emails = emails_by_order(&mail_dir);
    assert!(
        finished,
        "not finished after 120 s: {} pending, {} of {ORDERS} orders with an e-mail, {} \
         unpublished outbox rows ({summary})",
        statuses.values().filter(|s| *s == "pending").count(),
        placed.keys().filter(|id| emails.contains_key(*id)).count(),
        count(&pool, UNPUBLISHED).await,
    );

    // Every order decided.
    assert_eq!(statuses.len(), ORDERS);
    let mut confirmed_quantity: HashMap<&str, i64> = HashMap::new();
    let mut rejected = 0;
    for (id, (sku, quantity)) in &placed {
        match statuses.get(id).map(String::as_str) {
            Some("confirmed") => *confirmed_quantity.entry(sku).or_default() += quantity,
            Some("rejected") => rejected += 1,
            other => panic!("order {id} is {other:?}"),
        }
    }
    assert!(rejected > 0, "the scarce SKUs ran out");

    // Exactly one e-mail per order and none for anything else. A redelivery or a
    // re-publish caused by the restart (a confirm or an ack lost with the connection)
    // sends the same message id again, which the file adapter deduplicates.
    assert_eq!(emails.len(), ORDERS, "e-mails for orders not placed here?");
    for (id, files) in &emails {
        assert_eq!(
            files.len(),
            1,
            "order {id} has e-mails {files:?} ({summary})"
        );
    }
    eprintln!("{summary}; one e-mail per order");

    // Stock exact: what was seeded less what the confirmed orders took.
    for product in DEMO_PRODUCTS {
        let on_hand: i64 =
            seam_sql::sqlx::query_scalar("SELECT on_hand::bigint FROM inventory WHERE sku = $1")
                .bind(product.sku)
                .fetch_one(&pool)
                .await
                .unwrap();
        let taken = confirmed_quantity.get(product.sku).copied().unwrap_or(0);
        assert_eq!(
            on_hand,
            i64::from(product.on_hand) - taken,
            "{}: seeded {}, confirmed orders took {taken}",
            product.sku,
            product.on_hand
        );
    }
    assert_eq!(
        count(&pool, UNPUBLISHED).await,
        0,
        "unpublished outbox rows"
    );

    Arc::into_inner(api)
        .expect("the clients are done")
        .stop()
        .await;
    // This run's exchanges and queues go with it.
    topology.build().unwrap().delete_topology().await.unwrap();
    database.cleanup().await;
    drop(node);
}
