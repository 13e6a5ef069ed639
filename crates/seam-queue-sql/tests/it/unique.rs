//! `publish_unique`: the port's deduplication case on both backends, and the expiry of a
//! key through the `queue_dedupe` table.

use std::time::Duration;

use seam_queue::{Envelope, Published, UniquePublisher, unique_conformance};

use crate::support::TestDb;

async fn unique_case(test: &TestDb) {
    let queue = test.queue();
    unique_conformance::run_unique(&queue, &queue, &TestDb::timing()).await;
}

async fn an_expired_key_is_taken_over(test: &TestDb) {
    let queue = test.queue();
    let envelope = Envelope::new("basic.unique", serde_json::json!({}));
    let ttl = Duration::from_millis(1);
    let long = Duration::from_secs(3600);
    let first = queue
        .publish_unique("evt_expiring", ttl, "basic.unique", &envelope)
        .await
        .unwrap();
    assert_eq!(first, Published::New);
    // Bounded wait for the 1 ms TTL to pass: the key is then free again.
    let mut again = Published::Duplicate;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        again = queue
            .publish_unique("evt_expiring", long, "basic.unique", &envelope)
            .await
            .unwrap();
        if again == Published::New {
            break;
        }
    }
    assert_eq!(
        again,
        Published::New,
        "an expired key must not block a publish"
    );
    assert_eq!(
        queue
            .publish_unique("evt_expiring", long, "basic.unique", &envelope)
            .await
            .unwrap(),
        Published::Duplicate,
        "the key was taken over with a fresh TTL; within it, a duplicate"
    );
}

on_both_backends!(unique_case, an_expired_key_is_taken_over);
