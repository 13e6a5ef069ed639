//! The order flow end to end, API and worker together: on the embedded defaults
//! (SQLite, SQL queue, e-mail files) and on the real servers (Postgres, RabbitMQ,
//! SMTP sink).

use std::path::{Path, PathBuf};
use std::time::Duration;

use seam_api::Application;
use seam_order_worker::Worker;
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS, Database};
use seam_testkit::TestPostgres;
use seam_wiring::{DatabaseBackend, EmailBackend, QueueBackend, Settings};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The API and the worker running in this process.
struct Stack {
    api: String,
    client: reqwest::Client,
    stops: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
    database: Database,
}

impl Stack {
    async fn start(settings: Settings) -> Self {
        seam_testkit::init_test_logging();
        let database = Database::connect(&seam_wiring::sql_config(&settings))
            .await
            .expect("database opens");
        database.migrate_up().await.expect("migrations apply");
        database.seed().await.expect("seed loads");
        let client = crate::api_client(&settings);
        let api = Application::build(settings.clone())
            .await
            .expect("API builds");
        let worker = Worker::build(settings).await.expect("worker builds");
        let url = format!("http://{}", api.local_addr());
        let mut stops = Vec::new();
        let token = api.shutdown_token();
        stops.push((token, tokio::spawn(api.run_until_stopped())));
        let token = worker.shutdown_token();
        stops.push((token, tokio::spawn(worker.run_until_stopped())));
        Self {
            api: url,
            client,
            stops,
            database,
        }
    }

    async fn place(&self, sku: &str, quantity: u32) -> String {
        let response = self
            .client
            .post(format!("{}/v1/orders", self.api))
            .json(&json!({
                "customer_id": DEMO_CUSTOMER_ID.to_string(),
                "currency": "EUR",
                "lines": [{"sku": sku, "quantity": quantity}],
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::CREATED);
        let order: Value = response.json().await.unwrap();
        order["id"].as_str().unwrap().to_owned()
    }

    /// Polls the order until it leaves `pending` (bounded: 60 s).
    async fn decided(&self, id: &str) -> Value {
        for _ in 0..600 {
            let order: Value = self
                .client
                .get(format!("{}/v1/orders/{id}", self.api))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if order["status"] != "pending" {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("order {id} was still pending after 60 s");
    }

    async fn stock(&self, sku: &str) -> i64 {
        let sql = match self.database.backend() {
            seam_sql::Backend::Postgres => "SELECT on_hand::bigint FROM inventory WHERE sku = $1",
            seam_sql::Backend::Sqlite => "SELECT on_hand FROM inventory WHERE sku = ?1",
        };
        match self.database.pool() {
            seam_sql::Pool::Postgres(pool) => seam_sql::sqlx::query_scalar(sql)
                .bind(sku)
                .fetch_one(pool)
                .await
                .unwrap(),
            seam_sql::Pool::Sqlite(pool) => seam_sql::sqlx::query_scalar(sql)
                .bind(sku)
                .fetch_one(pool)
                .await
                .unwrap(),
            other => panic!("no stock query for {other:?}"),
        }
    }

    async fn stop(self) {
        for (token, _) in &self.stops {
            token.cancel();
        }
        for (_, task) in self.stops {
            task.await.unwrap().unwrap();
        }
        self.database.close().await;
    }
}

/// Waits until `count` messages mentioning `needle` are in `dir` (bounded: 60 s), then
/// a little longer to catch a duplicate, and returns them.
async fn emails_mentioning(dir: &Path, needle: &str, count: usize) -> Vec<String> {
    let read = || -> Vec<String> {
        let mut found = Vec::new();
        for folder in [dir.to_path_buf(), dir.join("new"), dir.join("cur")] {
            let Ok(entries) = std::fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let path: PathBuf = entry.path();
                if path.extension().is_some_and(|ext| ext == "json") || !path.is_file() {
                    continue;
                }
                if let Ok(text) = std::fs::read_to_string(&path)
                    && text.contains(needle)
                {
                    found.push(text);
                }
            }
        }
        found
    };
    for _ in 0..600 {
        if read().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    read()
}

fn embedded(data: &Path) -> Settings {
    let mut settings = Settings {
        data_dir: data.to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings.queue.poll_interval = Duration::from_millis(50);
    settings
}

async fn confirmed_and_rejected(settings: Settings, mail_dir: &Path) {
    let stack = Stack::start(settings).await;
    let mug = DEMO_PRODUCTS[0].sku;
    let before = stack.stock(mug).await;

    let confirmed = stack.place(mug, 3).await;
    let order = stack.decided(&confirmed).await;
    assert_eq!(order["status"], "confirmed", "{order}");
    assert_eq!(stack.stock(mug).await, before - 3);
    let mails = emails_mentioning(mail_dir, &confirmed, 1).await;
    assert_eq!(mails.len(), 1, "exactly one confirmation e-mail");
    assert!(mails[0].contains(mug));

    let scarce = DEMO_PRODUCTS[3].sku;
    let rejected = stack.place(scarce, 1000).await;
    let order = stack.decided(&rejected).await;
    assert_eq!(order["status"], "rejected", "{order}");
    assert!(
        order["rejection_reason"]
            .as_str()
            .unwrap()
            .starts_with("out of stock")
    );
    let mails = emails_mentioning(mail_dir, &rejected, 1).await;
    assert_eq!(mails.len(), 1, "exactly one rejection e-mail");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_flow_on_the_embedded_defaults() {
    let data = tempfile::tempdir().unwrap();
    let settings = embedded(data.path());
    assert_eq!(settings.database.backend, DatabaseBackend::Sqlite);
    assert_eq!(settings.queue.backend, QueueBackend::Sql);
    assert_eq!(settings.email.backend, EmailBackend::File);
    let mail_dir = settings.email_dir();
    confirmed_and_rejected(settings, &mail_dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_flow_on_sqlite_and_redis_streams() {
    let redis = seam_testkit::require_redis();
    let data = tempfile::tempdir().unwrap();
    let mut settings = embedded(data.path());
    settings.queue.backend = QueueBackend::Redis;
    settings.queue.redis.url = redis.into();
    settings.queue.redis.key_prefix = format!("seam-test:{}", uuid::Uuid::now_v7().simple());
    let prefix = settings.queue.redis.key_prefix.clone();
    let mail_dir = settings.email_dir();
    confirmed_and_rejected(settings, &mail_dir).await;
    // This test's streams go with it.
    let mut connection = redis::Client::open(seam_testkit::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_flow_on_postgres_rabbitmq_and_an_smtp_sink() {
    seam_testkit::require_service("smtp", "127.0.0.1:2525");
    let amqp = seam_testkit::require_rabbitmq();
    let database = TestPostgres::new().await;
    let data = tempfile::tempdir().unwrap();
    let mut settings = embedded(data.path());
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some(database.url().into());
    settings.queue.backend = QueueBackend::Amqp;
    settings.queue.amqp.url = amqp.into();
    let unique = uuid::Uuid::now_v7().simple().to_string();
    settings.queue.amqp.exchange = format!("seam.test.{unique}");
    settings.queue.amqp.queue_prefix = format!("test.{unique}.");
    settings.email.backend = EmailBackend::Smtp;
    let maildir = std::env::var("SEAM_TEST_SMTP_MAILDIR")
        .unwrap_or_else(|_| "/tmp/seam-smtp-sink".to_owned());
    let amqp = &settings.queue.amqp;
    let mut topology = seam_queue_amqp::AmqpQueueConfig::new(
        seam_core::ExposeSecret::expose_secret(&amqp.url).clone(),
    )
    .with_bindings(seam_orders::bindings());
    topology.exchange = amqp.exchange.clone();
    topology.queue_prefix = amqp.queue_prefix.clone();
    confirmed_and_rejected(settings, Path::new(&maildir)).await;
    // This test's exchange and queues go with it.
    topology.build().unwrap().delete_topology().await.unwrap();
    database.cleanup().await;
}
