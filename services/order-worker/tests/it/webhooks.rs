//! Inbound webhooks end to end: signed events POSTed to the API, deduplicated and queued,
//! processed by the worker into the payment-events sink and the event log — on the
//! embedded default (SQLite + SQL queue) and on Redis Streams.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use seam_api::Application;
use seam_core::{ErrorKind, SecretString};
use seam_order_worker::Worker;
use seam_order_worker::webhooks::{PaymentApplied, PaymentEvents};
use seam_orders::OrdersError;
use seam_payments::{PaymentEvent, PaymentEventKind};
use seam_repository::{WebhookEventLog, WebhookEventStatus};
use seam_repository_sql::SqlWebhookEvents;
use seam_sql::Database;
use seam_wiring::{QueueBackend, Settings};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "whsec_worker_test";

/// Records the payment events it is given; fails the first `failures` calls with a
/// retryable error.
#[derive(Debug, Default)]
struct RecordingPayments {
    applied: Mutex<Vec<PaymentEvent>>,
    failures: Mutex<u32>,
}

#[async_trait]
impl PaymentEvents for RecordingPayments {
    async fn apply(&self, event: &PaymentEvent) -> Result<PaymentApplied, OrdersError> {
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(OrdersError::Queue(seam_queue::Error::backend(
                    "test",
                    ErrorKind::Unavailable,
                    "payments are down",
                )));
            }
        }
        self.applied.lock().unwrap().push(event.clone());
        Ok(PaymentApplied::Done(format!("applied {}", event.id)))
    }
}

impl RecordingPayments {
    fn count(&self) -> usize {
        self.applied.lock().unwrap().len()
    }
}

fn settings(data: &Path) -> Settings {
    let mut settings = Settings {
        data_dir: data.to_path_buf(),
        ..Settings::default()
    };
    settings.server.port = 0;
    settings.worker.port = 0;
    settings.queue.poll_interval = Duration::from_millis(50);
    settings.worker.concurrency = 4;
    settings.webhooks.stripe = Some(seam_config::WebhookEndpointSettings {
        secrets: vec![SecretString::from(SECRET)],
        ..seam_config::WebhookEndpointSettings::default()
    });
    settings
}

struct Stack {
    api: String,
    http: reqwest::Client,
    payments: Arc<RecordingPayments>,
    log: SqlWebhookEvents,
    database: Database,
    stops: Vec<(
        CancellationToken,
        tokio::task::JoinHandle<std::io::Result<()>>,
    )>,
}

impl Stack {
    async fn start(settings: Settings, payments: RecordingPayments) -> Self {
        Self::start_with(settings, payments, None).await
    }

    /// The stack with `sink` as the worker's payment events (else the recording fake).
    async fn start_with(
        settings: Settings,
        payments: RecordingPayments,
        sink: Option<Arc<dyn PaymentEvents>>,
    ) -> Self {
        seam_testkit::init_test_logging();
        let database = Database::connect(&seam_wiring::sql_config(&settings))
            .await
            .expect("database opens");
        database.migrate_up().await.expect("migrations apply");
        database.seed().await.expect("seed loads");
        let payments = Arc::new(payments);
        let sink = sink.unwrap_or_else(|| payments.clone());
        let api = Application::build(settings.clone())
            .await
            .expect("API builds");
        let worker = Worker::build(settings)
            .await
            .expect("worker builds")
            .with_payment_events(sink);
        let url = format!("http://{}", api.local_addr());
        let stops = vec![
            (api.shutdown_token(), tokio::spawn(api.run_until_stopped())),
            (
                worker.shutdown_token(),
                tokio::spawn(worker.run_until_stopped()),
            ),
        ];
        Self {
            api: url,
            http: reqwest::Client::new(),
            payments,
            log: SqlWebhookEvents::new(&database),
            database,
            stops,
        }
    }

    async fn deliver(&self, body: &str) -> reqwest::StatusCode {
        let signature = seam_webhooks::sign::stripe(
            &[SecretString::from(SECRET)],
            chrono::Utc::now().timestamp(),
            body.as_bytes(),
        )
        .unwrap();
        self.http
            .post(format!("{}/webhooks/stripe", self.api))
            .header("content-type", "application/json")
            .header("stripe-signature", signature)
            .body(body.to_owned())
            .send()
            .await
            .expect("webhook sent")
            .status()
    }

    /// Waits (bounded) until the log holds `event_id` with `status`.
    async fn logged(
        &self,
        event_id: &str,
        status: WebhookEventStatus,
    ) -> seam_repository::WebhookEvent {
        let mut last = None;
        for _ in 0..300 {
            match self.log.get("stripe", event_id).await {
                Ok(event) if event.status == status => return event,
                Ok(event) => last = Some(event),
                Err(_) => {}
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{event_id} not logged {status} within 30 s; last seen: {last:?}");
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

fn succeeded(id: &str, order: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"event","type":"payment_intent.succeeded","created":1750000000,"data":{{"object":{{"id":"pi_{id}","object":"payment_intent","amount":1999,"amount_received":1999,"currency":"eur","status":"succeeded","metadata":{{"order_id":"{order}"}}}}}}}}"#
    )
}

async fn paid_once(settings: Settings) {
    let stack = Stack::start(settings, RecordingPayments::default()).await;
    let body = succeeded("evt_paid_1", "order-42");
    assert_eq!(stack.deliver(&body).await, reqwest::StatusCode::ACCEPTED);
    assert_eq!(
        stack.deliver(&body).await,
        reqwest::StatusCode::OK,
        "a redelivery is a duplicate"
    );
    let logged = stack
        .logged("evt_paid_1", WebhookEventStatus::Processed)
        .await;
    assert_eq!(logged.attempts, 1, "{logged:?}");
    assert_eq!(logged.event_type, "payment_intent.succeeded");
    assert!(logged.processing_ms.is_some());
    // The duplicate never reached the worker: still one application, one attempt.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let applied = stack.payments.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0].order_reference.as_deref(), Some("order-42"));
    assert!(matches!(
        applied[0].kind,
        PaymentEventKind::PaymentSucceeded { .. }
    ));
    assert_eq!(
        stack
            .log
            .get("stripe", "evt_paid_1")
            .await
            .unwrap()
            .attempts,
        1
    );

    // A type the payments port does not model is ignored, not retried.
    let other = r#"{"id":"evt_other","object":"event","type":"customer.created","data":{"object":{"id":"cus_1"}}}"#;
    assert_eq!(stack.deliver(other).await, reqwest::StatusCode::ACCEPTED);
    let ignored = stack.logged("evt_other", WebhookEventStatus::Ignored).await;
    assert_eq!(ignored.attempts, 1);
    stack.stop().await;
}

async fn burst(settings: Settings) {
    const EVENTS: usize = 1000;
    let stack = Stack::start(settings, RecordingPayments::default()).await;
    let bodies: Vec<String> = (0..EVENTS)
        .map(|n| succeeded(&format!("evt_burst_{n}"), &format!("order-{n}")))
        .collect();
    let statuses = futures::stream::iter(bodies.iter().map(|body| stack.deliver(body)))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert!(
        statuses
            .iter()
            .all(|status| *status == reqwest::StatusCode::ACCEPTED),
        "every event accepted"
    );
    // Bounded wait for the worker to drain the queue.
    for _ in 0..1200 {
        if stack.payments.count() >= EVENTS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(stack.payments.count(), EVENTS, "none lost, none twice");
    let last = format!("evt_burst_{}", EVENTS - 1);
    stack.logged(&last, WebhookEventStatus::Processed).await;
    let mut processed = 0;
    for n in 0..EVENTS {
        let event = stack.log.get("stripe", &format!("evt_burst_{n}")).await;
        if let Ok(event) = event
            && event.status == WebhookEventStatus::Processed
            && event.attempts == 1
        {
            processed += 1;
        }
    }
    assert_eq!(processed, EVENTS, "every event logged processed once");
    stack.stop().await;
}

use futures::StreamExt;

/// A signed `payment_intent.succeeded` for a placed order moves its payment to
/// `succeeded` through the real payments use case; a redelivery changes nothing.
async fn order_paid(settings: Settings) {
    seam_testkit::init_test_logging();
    let database = Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .expect("database opens");
    database.migrate_up().await.expect("migrations apply");
    database.seed().await.expect("seed loads");
    let adapters = seam_wiring::Adapters::build(&settings, &database)
        .await
        .expect("adapters build");
    let payments = Arc::new(seam_orders::Payments::new(
        adapters.repositories.orders.clone(),
        Arc::new(seam_repository::MemoryOrderPayments::new()),
        Arc::new(seam_payments::InMemoryPayments::new()),
        "stripe",
        Arc::new(seam_alerts::InMemoryAlerts::new()),
        "order-worker-tests",
        seam_core::SystemClock::shared(),
    ));
    let client = crate::api_client(&settings);
    let stack = Stack::start_with(
        settings,
        RecordingPayments::default(),
        Some(payments.clone()),
    )
    .await;
    let response = client
        .post(format!("{}/v1/orders", stack.api))
        .json(&serde_json::json!({
            "customer_id": seam_sql::DEMO_CUSTOMER_ID.to_string(),
            "currency": "EUR",
            "lines": [{"sku": seam_sql::DEMO_PRODUCTS[0].sku, "quantity": 1}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let order: serde_json::Value = response.json().await.unwrap();
    let order_id = order["id"].as_str().unwrap().to_owned();

    let body = succeeded("evt_order_paid", &order_id);
    assert_eq!(stack.deliver(&body).await, reqwest::StatusCode::ACCEPTED);
    assert_eq!(stack.deliver(&body).await, reqwest::StatusCode::OK);
    let logged = stack
        .logged("evt_order_paid", WebhookEventStatus::Processed)
        .await;
    assert_eq!(logged.attempts, 1, "{logged:?}");
    let record = payments
        .payment(order_id.parse().unwrap())
        .await
        .unwrap()
        .expect("the order has a payment record");
    assert_eq!(record.status, "succeeded", "{record:?}");
    stack.stop().await;
    database.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeded_event_pays_the_order_on_the_embedded_default() {
    let data = tempfile::tempdir().unwrap();
    order_paid(settings(data.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_succeeded_event_pays_the_order_on_redis_streams() {
    let data = tempfile::tempdir().unwrap();
    let (settings, prefix) = on_redis(data.path());
    order_paid(settings).await;
    remove_keys(&prefix).await;
}

fn on_redis(data: &Path) -> (Settings, String) {
    let redis = seam_testkit::require_redis();
    let mut settings = settings(data);
    settings.queue.backend = QueueBackend::Redis;
    settings.queue.redis.url = redis.into();
    let prefix = format!("seam-test:{}", uuid::Uuid::now_v7().simple());
    settings.queue.redis.key_prefix = prefix.clone();
    (settings, prefix)
}

async fn remove_keys(prefix: &str) {
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
async fn a_payment_event_is_processed_once_on_the_embedded_default() {
    let data = tempfile::tempdir().unwrap();
    paid_once(settings(data.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_event_is_processed_once_on_redis_streams() {
    let data = tempfile::tempdir().unwrap();
    let (settings, prefix) = on_redis(data.path());
    paid_once(settings).await;
    remove_keys(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_events_is_all_processed_on_the_embedded_default() {
    let data = tempfile::tempdir().unwrap();
    burst(settings(data.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_events_is_all_processed_on_redis_streams() {
    let data = tempfile::tempdir().unwrap();
    let (settings, prefix) = on_redis(data.path());
    burst(settings).await;
    remove_keys(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_event_is_logged_failed_then_processed_on_retry() {
    let data = tempfile::tempdir().unwrap();
    let payments = RecordingPayments {
        failures: Mutex::new(1),
        ..RecordingPayments::default()
    };
    let stack = Stack::start(settings(data.path()), payments).await;
    assert_eq!(
        stack.deliver(&succeeded("evt_retry", "order-7")).await,
        reqwest::StatusCode::ACCEPTED
    );
    let processed = stack
        .logged("evt_retry", WebhookEventStatus::Processed)
        .await;
    assert_eq!(
        processed.attempts, 2,
        "one failure, then success: {processed:?}"
    );
    assert_eq!(processed.last_error, None);
    assert_eq!(stack.payments.count(), 1);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_payment_is_recorded_and_the_customer_is_told_once() {
    let data = tempfile::tempdir().unwrap();
    let settings = settings(data.path());
    let mail_dir = settings.email_dir();
    let database = Database::connect(&seam_wiring::sql_config(&settings))
        .await
        .expect("database opens");
    database.migrate_up().await.expect("migrations apply");
    database.seed().await.expect("seed loads");
    let adapters = seam_wiring::Adapters::build(&settings, &database)
        .await
        .expect("adapters build");
    let orders = Arc::new(adapters.order_service(&settings).expect("order service"));
    let payments = seam_orders::Payments::new(
        adapters.repositories.orders.clone(),
        Arc::new(seam_repository::MemoryOrderPayments::new()),
        Arc::new(seam_payments::InMemoryPayments::new()),
        "stripe",
        Arc::new(seam_alerts::InMemoryAlerts::new()),
        "order-worker-tests",
        seam_core::SystemClock::shared(),
    );
    let sink: Arc<dyn PaymentEvents> = Arc::new(
        seam_order_worker::webhooks::NotifyingPayments::new(payments, orders),
    );
    let client = crate::api_client(&settings);
    let stack = Stack::start_with(settings, RecordingPayments::default(), Some(sink)).await;
    let response = client
        .post(format!("{}/v1/orders", stack.api))
        .json(&serde_json::json!({
            "customer_id": seam_sql::DEMO_CUSTOMER_ID.to_string(),
            "currency": "EUR",
            "lines": [{"sku": seam_sql::DEMO_PRODUCTS[0].sku, "quantity": 1}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED);
    let order: serde_json::Value = response.json().await.unwrap();
    let order_id = order["id"].as_str().unwrap().to_owned();

    let body = format!(
        r#"{{"id":"evt_failed_1","object":"event","type":"payment_intent.payment_failed","created":1750000000,"data":{{"object":{{"id":"pi_failed_1","object":"payment_intent","amount":1999,"currency":"eur","status":"requires_payment_method","last_payment_error":{{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}},"metadata":{{"order_id":"{order_id}"}}}}}}}}"#
    );
    assert_eq!(stack.deliver(&body).await, reqwest::StatusCode::ACCEPTED);
    stack
        .logged("evt_failed_1", WebhookEventStatus::Processed)
        .await;

    let notices: Vec<String> = std::fs::read_dir(&mail_dir)
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .filter(|mail| mail.contains("did not go through"))
        .collect();
    assert_eq!(notices.len(), 1, "one payment-failed e-mail: {notices:?}");
    assert!(notices[0].contains(&order_id));
    assert!(notices[0].contains("insufficient funds"), "{}", notices[0]);
    stack.stop().await;
    database.close().await;
}
