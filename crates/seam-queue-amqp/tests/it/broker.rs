//! Adapter-specific behaviour: topology, retry tiers, poison bodies, an unreachable
//! broker, reconnection.

use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use seam_core::{Classify, ErrorKind, HealthCheck, HealthStatus};
use seam_queue::{Consumer, DeadLetters, Envelope, Error, Publisher, QueueBinding};
use seam_queue_amqp::{AmqpQueue, AmqpQueueConfig};

/// An adapter on its own exchange and queue names, deleted at the end of the test (by
/// [`cleanup`](Self::cleanup), or when the test panics, on drop).
pub(crate) struct TestBroker {
    pub(crate) queue: AmqpQueue,
    pub(crate) prefix: String,
    pub(crate) connection_name: String,
    pub(crate) config: AmqpQueueConfig,
    cleaned: bool,
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // A panicking test: delete its topology on a runtime of its own.
        let config = self.config.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                let queue = config.build().expect("valid config");
                let _ = queue.delete_topology().await;
                queue.close().await;
            });
        })
        .join();
    }
}

impl TestBroker {
    pub(crate) async fn new(
        bindings: Vec<QueueBinding>,
        adjust: impl FnOnce(&mut AmqpQueueConfig),
    ) -> Self {
        seam_testkit::init_test_logging();
        let url = seam_testkit::require_rabbitmq();
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let exchange = format!("seam-test.{unique}");
        let prefix = format!("seam-test.{unique}.");
        let mut config = AmqpQueueConfig::new(url).with_bindings(bindings);
        config.exchange = exchange.clone();
        config.queue_prefix = prefix.clone();
        adjust(&mut config);
        let queue = config.clone().build().expect("valid config");
        let broker = Self {
            queue,
            prefix,
            connection_name: format!("seam:{exchange}"),
            config,
            cleaned: false,
        };
        broker.queue.connect().await.expect("connect and declare");
        broker
    }

    pub(crate) async fn cleanup(mut self) {
        self.queue.delete_topology().await.expect("delete topology");
        self.queue.close().await;
        self.cleaned = true;
    }
}

fn orders() -> Vec<QueueBinding> {
    vec![
        QueueBinding::new("orders", "order.created"),
        QueueBinding::new("audit", "#"),
    ]
}

#[tokio::test]
async fn orders_queue_receives_order_created_and_audit_sees_everything() {
    let broker = TestBroker::new(orders(), |_| {}).await;
    let queue = &broker.queue;
    let sent = Envelope::new("order.created", serde_json::json!({"order": 42}));
    queue.publish("order.created", &sent).await.unwrap();
    queue
        .publish(
            "payment.captured",
            &Envelope::new("payment.captured", serde_json::json!({})),
        )
        .await
        .unwrap();

    let delivery = queue
        .receive("orders", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the order");
    assert_eq!(delivery.envelope(), &sent);
    delivery.ack().await.unwrap();
    assert!(
        queue
            .receive("orders", Duration::from_millis(200))
            .await
            .unwrap()
            .is_none(),
        "payment.captured is not bound to orders"
    );
    for _ in 0..2 {
        queue
            .receive("audit", Duration::from_secs(5))
            .await
            .unwrap()
            .expect("audit gets both")
            .ack()
            .await
            .unwrap();
    }
    broker.cleanup().await;
}

#[tokio::test]
async fn a_retry_longer_than_every_tier_waits_in_the_largest() {
    // Tiers of 300 ms and 600 ms: a 5 s retry waits 600 ms, not 5 s.
    let broker = TestBroker::new(orders(), |config| {
        config.retry_tiers = vec![Duration::from_millis(300), Duration::from_millis(600)];
    })
    .await;
    let queue = &broker.queue;
    queue
        .publish(
            "order.created",
            &Envelope::new("order.created", serde_json::json!(1)),
        )
        .await
        .unwrap();
    let first = queue
        .receive("orders", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();
    first
        .retry(Duration::from_secs(5), "inventory service down")
        .await
        .unwrap();
    let again = queue
        .receive("orders", Duration::from_secs(4))
        .await
        .unwrap()
        .expect("back after the largest tier");
    assert_eq!(again.envelope().attempt, 1);
    assert_eq!(again.deliveries(), 2);
    again.dead_letter("gave up").await.unwrap();
    let dead = queue.list("orders", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "gave up");
    assert_eq!(dead[0].attempts, 2);
    assert!(dead[0].first_failed_at < dead[0].last_failed_at);
    broker.cleanup().await;
}

async fn raw_connection() -> Connection {
    Connection::connect(&seam_testkit::amqp_url(), ConnectionProperties::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_is_dead_lettered() {
    let broker = TestBroker::new(orders(), |_| {}).await;
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .basic_publish(
            "".into(),
            format!("{}orders", broker.prefix).into(),
            BasicPublishOptions::default(),
            b"<xml>not json</xml>",
            BasicProperties::default(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    // The poison message is dead-lettered and the receive goes on waiting.
    let got = broker
        .queue
        .receive("orders", Duration::from_millis(500))
        .await
        .unwrap();
    assert!(got.is_none(), "{got:?}");
    let dead = broker.queue.list("orders", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].envelope.message_type, "seam.undecodable");
    assert_eq!(
        dead[0].envelope.payload,
        serde_json::json!("<xml>not json</xml>")
    );
    assert_eq!(dead[0].reason, "the body is not a JSON envelope");
    assert_eq!(broker.queue.purge("orders").await.unwrap(), 1);
    let _ = connection.close(200, "bye".into()).await;
    broker.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_broker_is_unavailable_and_backs_off() {
    let mut config =
        AmqpQueueConfig::new("amqp://guest:guest@127.0.0.1:1/%2f").with_bindings(orders());
    config.reconnect_min = Duration::from_secs(30);
    config.reconnect_max = Duration::from_secs(30);
    let queue = config.build().unwrap();
    let envelope = Envelope::new("order.created", serde_json::json!({}));
    let error = queue.publish("order.created", &envelope).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error:?}");
    // Within the backoff the next call fails at once, without connecting.
    let error = queue
        .receive("orders", Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unavailable, "{error:?}");
    assert!(error.to_string().contains("next is in"), "{error}");
    let health = queue.check().await;
    assert_eq!(health.status, HealthStatus::Down);
    assert_eq!(health.detail.as_deref(), Some("rabbitmq: unavailable"));
    // Mistakes are reported as such before any connection is needed.
    assert!(matches!(
        queue.publish("order.*", &envelope).await,
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        queue.receive("nope", Duration::ZERO).await,
        Err(Error::NotFound { .. })
    ));
}

/// Closes our connection from the broker's side, as a broker restart would.
fn close_from_the_broker(connection_name: &str) {
    let output = std::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "--quiet",
            "--no-table-headers",
        ])
        .output()
        .expect("this test needs `rabbitmqctl` on the PATH to close a connection from the broker");
    let listing = String::from_utf8_lossy(&output.stdout);
    let pid = listing
        .lines()
        .find(|line| line.contains(connection_name))
        .and_then(|line| line.split_whitespace().next())
        .unwrap_or_else(|| {
            panic!(
                "no connection named {connection_name} in:\n{listing}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })
        .to_owned();
    let closed = std::process::Command::new("rabbitmqctl")
        .args([
            "close_connection",
            &pid,
            "seam test: simulated broker restart",
        ])
        .output()
        .unwrap();
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_drops_the_connection() {
    let broker = TestBroker::new(orders(), |config| {
        config.visibility_timeout = Duration::from_secs(1);
    })
    .await;
    let queue = &broker.queue;
    let first = Envelope::new("order.created", serde_json::json!(1));
    queue.publish("order.created", &first).await.unwrap();
    // A delivery received before the connection drops cannot be settled afterwards.
    let held = queue
        .receive("orders", Duration::from_secs(5))
        .await
        .unwrap()
        .unwrap();

    close_from_the_broker(&broker.connection_name);

    // The next calls reconnect (a call may fail while the drop is being noticed).
    let second = Envelope::new("order.created", serde_json::json!(2));
    let mut published = false;
    for _ in 0..50 {
        match queue.publish("order.created", &second).await {
            Ok(()) => {
                published = true;
                break;
            }
            Err(error) => {
                assert!(error.is_retryable(), "{error:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(published, "publishing never recovered");
    let error = held.ack().await.unwrap_err();
    assert!(matches!(error, Error::LeaseExpired { .. }), "{error:?}");

    // Both messages arrive on the new connection: the held one was put back by the broker.
    let mut seen = Vec::new();
    for _ in 0..20 {
        if seen.len() == 2 {
            break;
        }
        match queue.receive("orders", Duration::from_secs(1)).await {
            Ok(Some(delivery)) => {
                seen.push(delivery.envelope().message_id);
                delivery.ack().await.unwrap();
            }
            Ok(None) => {}
            Err(error) => assert!(error.is_retryable(), "{error:?}"),
        }
    }
    seen.sort();
    let mut expected = vec![first.message_id, second.message_id];
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(queue.check().await.status, HealthStatus::Up);
    broker.cleanup().await;
}

#[tokio::test]
async fn a_zero_wait_sees_a_message_already_published() {
    let broker = TestBroker::new(orders(), |_| {}).await;
    // A fresh adapter: its consumer starts with this very call.
    let other = broker.config.clone().build().unwrap();
    broker
        .queue
        .publish(
            "order.created",
            &Envelope::new("order.created", serde_json::json!(1)),
        )
        .await
        .unwrap();
    let delivery = other
        .receive("orders", Duration::ZERO)
        .await
        .unwrap()
        .expect("a zero wait still looks at the queue");
    delivery.ack().await.unwrap();
    other.close().await;
    broker.cleanup().await;
}
