//! What only the table queue does: durability across instances, the schema it relies
//! on, its health check.

use std::collections::HashSet;
use std::time::Duration;

use seam_core::{Classify, ErrorKind, HealthCheck, HealthStatus};
use seam_queue::{Consumer, DeadLetters, Envelope, Publisher, conformance};
use seam_queue_sql::{SqlQueue, SqlQueueConfig};

use crate::support::TestDb;

on_both_backends!(
    a_published_message_survives_the_publisher,
    two_instances_never_share_a_lease,
    health_is_up_when_migrated_and_down_when_not,
    claims_are_exclusive_under_parallel_consumers,
    a_publish_wakes_a_waiting_receive,
);

/// A queue that polls so rarely that a waiting `receive` only finds a message published
/// meanwhile if it is woken.
fn sleepy_queue(test: &TestDb) -> SqlQueue {
    SqlQueue::new(
        test.db.clone(),
        SqlQueueConfig {
            bindings: conformance::bindings(),
            visibility_timeout: Duration::from_secs(600),
            poll_interval: Duration::from_secs(300),
        },
    )
    .unwrap()
}

/// Publishes one message to `conformance.basic` while `consumer` waits for it.
async fn publish_while_waiting(consumer: &SqlQueue, publisher: &SqlQueue) {
    let sent = Envelope::new("t", serde_json::Value::Null);
    // The receive would wait minutes for its next poll; only a wake-up ends it in time.
    let waiting = tokio::time::timeout(
        Duration::from_secs(5),
        consumer.receive("conformance.basic", Duration::from_secs(600)),
    );
    let (received, ()) = tokio::join!(waiting, async {
        // Give the receive a head start, so it is waiting when the message lands.
        tokio::time::sleep(Duration::from_millis(200)).await;
        publisher.publish("basic.x", &sent).await.unwrap();
    });
    let delivery = received
        .expect("the waiting receive must be woken by the publish, not wait for its next poll")
        .unwrap()
        .expect("the waiting receive must be woken by the publish, not wait for its next poll");
    assert_eq!(delivery.envelope().message_id, sent.message_id);
    delivery.ack().await.unwrap();
}

async fn a_publish_wakes_a_waiting_receive(test: &TestDb) {
    let queue = sleepy_queue(test);
    publish_while_waiting(&queue, &queue.clone()).await;
}

/// On Postgres, `LISTEN`/`NOTIFY` wakes consumers of other instances (other processes) too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_notify_wakes_another_instance() {
    let test = TestDb::postgres().await;
    publish_while_waiting(&sleepy_queue(&test), &sleepy_queue(&test)).await;
    test.cleanup().await;
}

/// A message published by one instance is received by another, which is what a restart
/// looks like: nothing lives in the process.
async fn a_published_message_survives_the_publisher(test: &TestDb) {
    let sent = Envelope::new("order.placed", serde_json::json!({"order": 1}));
    {
        let publisher = test.queue();
        publisher.publish("basic.order", &sent).await.unwrap();
    }
    let consumer = test.queue();
    let delivery = consumer
        .receive("conformance.basic", Duration::ZERO)
        .await
        .unwrap()
        .expect("the message is in the table");
    assert_eq!(delivery.envelope(), &sent);
    delivery.ack().await.unwrap();
}

/// Two instances over one database behave as one queue: a leased message is invisible to
/// the other instance, and a dead letter made by one is replayed by the other.
async fn two_instances_never_share_a_lease(test: &TestDb) {
    let (first, second) = (test.queue(), test.queue());
    first
        .publish("dead.x", &Envelope::new("t", serde_json::Value::Null))
        .await
        .unwrap();
    let delivery = first
        .receive("conformance.dead", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert!(
        second
            .receive("conformance.dead", Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    delivery.dead_letter("bad").await.unwrap();
    let dead = second.list("conformance.dead", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    second.replay(dead[0].id).await.unwrap();
    first
        .receive("conformance.dead", Duration::ZERO)
        .await
        .unwrap()
        .unwrap()
        .ack()
        .await
        .unwrap();
}

async fn health_is_up_when_migrated_and_down_when_not(test: &TestDb) {
    let queue = test.queue();
    assert_eq!(queue.name(), "queue");
    assert_eq!(queue.check().await.status, HealthStatus::Up);
    test.db.migrate_down(Some(0)).await.unwrap();
    let health = queue.check().await;
    assert_eq!(health.status, HealthStatus::Down, "{health:?}");
    // An unmigrated schema is an operator error, reported as such on publish too.
    let error = queue
        .publish("basic.x", &Envelope::new("t", serde_json::Value::Null))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Internal, "{error}");
}

/// Consumers on parallel tasks never claim the same row: with a lease far longer than the
/// test, every message is delivered once, to one consumer.
async fn claims_are_exclusive_under_parallel_consumers(test: &TestDb) {
    const MESSAGES: usize = 40;
    let queue = SqlQueue::new(
        test.db.clone(),
        SqlQueueConfig {
            bindings: conformance::bindings(),
            visibility_timeout: Duration::from_secs(300),
            poll_interval: Duration::from_millis(20),
        },
    )
    .unwrap();
    let mut sent = HashSet::new();
    for n in 0..MESSAGES {
        let envelope = Envelope::new("t", serde_json::json!({ "n": n }));
        sent.insert(envelope.message_id);
        queue.publish("concurrent.x", &envelope).await.unwrap();
    }
    let consumers: Vec<_> = (0..4)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(delivery) = queue
                    .receive("conformance.concurrent", Duration::ZERO)
                    .await
                    .unwrap()
                {
                    assert_eq!(delivery.deliveries(), 1, "{delivery:?}");
                    got.push(delivery.envelope().message_id);
                    delivery.ack().await.unwrap();
                }
                got
            })
        })
        .collect();
    let mut received = Vec::new();
    for consumer in consumers {
        received.extend(consumer.await.unwrap());
    }
    assert_eq!(received.len(), MESSAGES, "each message delivered once");
    assert_eq!(received.into_iter().collect::<HashSet<_>>(), sent);
}
