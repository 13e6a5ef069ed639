//! The conformance case of [`UniquePublisher`]: the `MUST` lines of its contract, on an
//! adapter configured with [`conformance::bindings`](crate::conformance::bindings).
//!
//! Keys are made unique per run (a fresh UUID prefix), so the case can run repeatedly
//! against a persistent backend.

use std::time::Duration;

use uuid::Uuid;

use crate::conformance::Timing;
use crate::{Consumer, Envelope, Error, Published, Queue, UniquePublisher};

/// The queue the case reads (bound to `basic.#` by the suite's bindings).
const QUEUE: &str = "conformance.basic";

/// Runs every check of the case. `queue` must be the same broker `publisher` writes to.
pub async fn run_unique(publisher: &dyn UniquePublisher, queue: &dyn Queue, timing: &Timing) {
    duplicate_is_published_once(publisher, queue, timing).await;
    concurrent_duplicates_publish_once(publisher, queue, timing).await;
    failed_publish_remembers_nothing(publisher, queue, timing).await;
}

fn key(name: &str) -> String {
    format!("conformance:{}:{name}", Uuid::now_v7().simple())
}

const TTL: Duration = Duration::from_secs(3600);

async fn drain(queue: &dyn Queue, timing: &Timing) -> Vec<Envelope> {
    let mut received = Vec::new();
    // Bounded: the case never publishes more than a handful of messages.
    for _ in 0..64 {
        let wait = if received.is_empty() {
            timing.margin
        } else {
            Duration::ZERO
        };
        match Consumer::receive(queue, QUEUE, wait).await {
            Ok(Some(delivery)) => {
                received.push(delivery.envelope().clone());
                delivery.ack().await.expect("ack");
            }
            Ok(None) => break,
            Err(error) => panic!("receive from {QUEUE} failed: {error}"),
        }
    }
    received
}

/// A second publish with the same key publishes nothing and answers `Duplicate`.
pub async fn duplicate_is_published_once(
    publisher: &dyn UniquePublisher,
    queue: &dyn Queue,
    timing: &Timing,
) {
    let key = key("twice");
    let first = Envelope::new("basic.unique", serde_json::json!({ "n": 1 }));
    let second = Envelope::new("basic.unique", serde_json::json!({ "n": 2 }));
    let published = publisher
        .publish_unique(&key, TTL, "basic.unique", &first)
        .await
        .expect("first publish");
    assert_eq!(published, Published::New);
    let published = publisher
        .publish_unique(&key, TTL, "basic.unique", &second)
        .await
        .expect("second publish");
    assert_eq!(published, Published::Duplicate);
    let received = drain(queue, timing).await;
    assert_eq!(received.len(), 1, "one message for one key: {received:?}");
    assert_eq!(received[0].message_id, first.message_id);
}

/// Of concurrent publishes with one key, exactly one is `New`, and one message arrives.
pub async fn concurrent_duplicates_publish_once(
    publisher: &dyn UniquePublisher,
    queue: &dyn Queue,
    timing: &Timing,
) {
    let key = key("concurrent");
    let envelopes: Vec<Envelope> = (0..8)
        .map(|n| Envelope::new("basic.unique", serde_json::json!({ "n": n })))
        .collect();
    let results = futures::future::join_all(
        envelopes
            .iter()
            .map(|envelope| publisher.publish_unique(&key, TTL, "basic.unique", envelope)),
    )
    .await;
    let new = results
        .iter()
        .filter(|result| matches!(result, Ok(Published::New)))
        .count();
    let duplicates = results
        .iter()
        .filter(|result| matches!(result, Ok(Published::Duplicate)))
        .count();
    assert_eq!((new, duplicates), (1, 7), "{results:?}");
    let received = drain(queue, timing).await;
    assert_eq!(received.len(), 1, "{received:?}");
}

/// A refused publish (unroutable, invalid key) leaves the key unused.
pub async fn failed_publish_remembers_nothing(
    publisher: &dyn UniquePublisher,
    queue: &dyn Queue,
    timing: &Timing,
) {
    let key = key("unroutable");
    let envelope = Envelope::new("basic.unique", serde_json::json!({}));
    let error = publisher
        .publish_unique(&key, TTL, "nobody.listens", &envelope)
        .await
        .expect_err("unroutable");
    assert!(matches!(error, Error::Unroutable { .. }), "{error:?}");
    let published = publisher
        .publish_unique(&key, TTL, "basic.unique", &envelope)
        .await
        .expect("publish after a refused one");
    assert_eq!(
        published,
        Published::New,
        "a refused publish must not keep its key"
    );
    for bad in ["", "   ", "a\nb"] {
        let error = publisher
            .publish_unique(bad, TTL, "basic.unique", &envelope)
            .await
            .expect_err("invalid key");
        assert!(matches!(error, Error::Invalid { .. }), "{bad:?}: {error:?}");
    }
    let error = publisher
        .publish_unique(
            &self::key("zero"),
            Duration::ZERO,
            "basic.unique",
            &envelope,
        )
        .await
        .expect_err("zero ttl");
    assert!(matches!(error, Error::Invalid { .. }), "{error:?}");
    let received = drain(queue, timing).await;
    assert_eq!(received.len(), 1, "{received:?}");
}
