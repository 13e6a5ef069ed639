//! `publish_unique`: the port's deduplication case, and the key's time to live in Redis.

use std::time::Duration;

use seam_queue::conformance::{self, Timing};
use seam_queue::{Envelope, Published, UniquePublisher, unique_conformance};

use crate::broker::TestQueue;

async fn remove_dedupe_keys(test: &TestQueue) {
    let mut connection = test.raw().await;
    let pattern = format!("{}:dedupe:*", test.config.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
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
async fn redis_publish_unique_passes_the_unique_case() {
    let timing = Timing::real(Duration::from_secs(1));
    let test = TestQueue::new(conformance::bindings(), |_| {}).await;
    unique_conformance::run_unique(&test.queue, &test.queue, &timing).await;
    remove_dedupe_keys(&test).await;
    test.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dedupe_key_expires_with_its_ttl() {
    let test = TestQueue::new(conformance::bindings(), |_| {}).await;
    let envelope = Envelope::new("basic.unique", serde_json::json!({}));
    let ttl = Duration::from_secs(7 * 24 * 3600);
    let published = test
        .queue
        .publish_unique("evt_1", ttl, "basic.unique", &envelope)
        .await
        .unwrap();
    assert_eq!(published, Published::New);
    let mut connection = test.raw().await;
    let pttl: i64 = redis::cmd("PTTL")
        .arg(test.queue.dedupe_key("evt_1"))
        .query_async(&mut connection)
        .await
        .unwrap();
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap();
    assert!(
        pttl > ttl_ms - 60_000 && pttl <= ttl_ms,
        "PTTL {pttl} for a {ttl_ms} ms TTL"
    );
    assert_eq!(
        test.queue.depth("conformance.basic").await.unwrap(),
        1,
        "one message in the stream"
    );
    remove_dedupe_keys(&test).await;
    test.cleanup().await;
}
