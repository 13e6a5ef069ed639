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
);

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
