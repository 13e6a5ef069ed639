//! What is particular to Redis Streams: consumers sharing a group, reclaiming the
//! deliveries of a dead consumer, the length cap, foreign entries and configuration errors.

use std::time::Duration;

use seam_core::{Classify, ErrorKind, HealthCheck};
use seam_queue::{Consumer, DeadLetters, Envelope, Error, Publisher, QueueBinding};
use seam_queue_redis::RedisQueueConfig;

use crate::broker::TestQueue;

fn bindings() -> Vec<QueueBinding> {
    vec![QueueBinding::new("orders", "order.*")]
}

fn envelope(n: u32) -> Envelope {
    Envelope::new("order.created", serde_json::json!({ "n": n }))
}

#[tokio::test]
async fn two_consumers_share_the_group_and_each_message_goes_to_one() {
    let test = TestQueue::new(bindings(), |_| {}).await;
    let other = test.second_consumer().await;
    assert_ne!(test.queue.consumer_name(), other.consumer_name());
    for n in 0..6 {
        test.queue
            .publish("order.created", &envelope(n))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    for round in 0..6 {
        let consumer = if round % 2 == 0 { &test.queue } else { &other };
        let delivery = consumer
            .receive("orders", Duration::from_secs(2))
            .await
            .unwrap()
            .expect("a message for each receive");
        seen.push(delivery.envelope().payload["n"].as_u64().unwrap());
        delivery.ack().await.unwrap();
    }
    seen.sort_unstable();
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
    assert!(
        test.queue
            .receive("orders", Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(test.queue.depth("orders").await.unwrap(), 0);
    test.cleanup().await;
}

#[tokio::test]
async fn a_dead_consumers_delivery_is_reclaimed_and_its_late_ack_refused() {
    let test = TestQueue::new(bindings(), |_| {}).await;
    let survivor = test.second_consumer().await;
    let message = envelope(1);
    test.queue.publish("order.created", &message).await.unwrap();

    let stale = test
        .queue
        .receive("orders", Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap();
    // The first consumer "dies" holding the delivery; after the visibility timeout the
    // survivor takes it over.
    let reclaimed = survivor
        .receive("orders", Duration::from_secs(5))
        .await
        .unwrap()
        .expect("the unsettled delivery comes back");
    assert_eq!(reclaimed.envelope().message_id, message.message_id);
    assert_eq!(reclaimed.deliveries(), 2);
    assert!(reclaimed.is_redelivery());

    let late = stale.ack().await.unwrap_err();
    assert!(
        matches!(late, Error::LeaseExpired { message_id } if message_id == message.message_id),
        "{late}"
    );
    reclaimed.ack().await.unwrap();
    test.cleanup().await;
}

#[tokio::test]
async fn a_full_queue_refuses_new_messages_instead_of_trimming_accepted_ones() {
    let test = TestQueue::new(bindings(), |config| config.max_len = 3).await;
    for n in 0..3 {
        test.queue
            .publish("order.created", &envelope(n))
            .await
            .unwrap();
    }
    let refused = test
        .queue
        .publish("order.created", &envelope(3))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert!(refused.to_string().contains("maximum"), "{refused}");
    assert_eq!(test.queue.depth("orders").await.unwrap(), 3);

    // Once one is processed there is room again.
    let delivery = test
        .queue
        .receive("orders", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.envelope().payload["n"], 0);
    delivery.ack().await.unwrap();
    test.queue
        .publish("order.created", &envelope(3))
        .await
        .unwrap();
    test.cleanup().await;
}

#[tokio::test]
async fn a_foreign_entry_is_delivered_as_undecodable_and_can_be_dead_lettered() {
    let test = TestQueue::new(bindings(), |_| {}).await;
    let mut raw = test.raw().await;
    let _: String = redis::cmd("XADD")
        .arg(test.queue.stream_key("orders"))
        .arg("*")
        .arg("data")
        .arg("not json")
        .query_async(&mut raw)
        .await
        .unwrap();
    let delivery = test
        .queue
        .receive("orders", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.envelope().message_type, "seam.undecodable");
    assert_eq!(delivery.envelope().payload, serde_json::json!("not json"));
    delivery.dead_letter("cannot decode").await.unwrap();

    let dead = test.queue.list("orders", 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "cannot decode");
    assert_eq!(test.queue.get(dead[0].id).await.unwrap(), dead[0]);
    assert_eq!(test.queue.purge("orders").await.unwrap(), 1);
    assert_eq!(
        test.queue.get(dead[0].id).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
    test.cleanup().await;
}

#[tokio::test]
async fn a_deleted_stream_is_recreated_on_the_next_receive() {
    let test = TestQueue::new(bindings(), |_| {}).await;
    let mut raw = test.raw().await;
    let _: () = redis::cmd("DEL")
        .arg(test.queue.stream_key("orders"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(
        test.queue
            .receive("orders", Duration::ZERO)
            .await
            .unwrap()
            .is_none()
    );
    test.queue
        .publish("order.created", &envelope(1))
        .await
        .unwrap();
    let delivery = test
        .queue
        .receive("orders", Duration::from_secs(2))
        .await
        .unwrap()
        .expect("published after the group came back");
    delivery.ack().await.unwrap();
    test.cleanup().await;
}

#[tokio::test]
async fn health_reports_up_and_an_unreachable_server_is_unavailable() {
    let test = TestQueue::new(bindings(), |_| {}).await;
    assert_eq!(test.queue.check().await.status, seam_core::HealthStatus::Up);
    test.cleanup().await;

    let unreachable = RedisQueueConfig {
        // Port 1 on loopback: nothing listens there.
        url: "redis://127.0.0.1:1".into(),
        bindings: bindings(),
        timeout: Duration::from_secs(2),
        ..RedisQueueConfig::default()
    };
    let error = unreachable.connect().await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Unavailable | ErrorKind::Timeout),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_setting_is_refused_before_connecting() {
    let error = RedisQueueConfig {
        bindings: Vec::new(),
        ..RedisQueueConfig::default()
    }
    .connect()
    .await
    .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid);
    assert!(error.to_string().contains("`bindings`"), "{error}");
}
