//! The metered decorator counts requests and streamed bytes.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use metrics::{SharedString, Unit};
use metrics_util::CompositeKey;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use seam_storage::conformance::{self, Capabilities};
use seam_storage::metered::{BYTES_TOTAL, REQUESTS_TOTAL};
use seam_storage::{
    GetOptions, InMemoryStorage, MeteredStorage, ObjectStorage, ObjectStorageExt, PutOptions,
};

use crate::support::key;

type Snapshot = Vec<(CompositeKey, Option<Unit>, Option<SharedString>, DebugValue)>;

/// Taking a snapshot drains the recorder, so each test takes one and reads it.
fn snapshot(snapshotter: &Snapshotter) -> Snapshot {
    snapshotter.snapshot().into_vec()
}

fn counter(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut total = 0;
    for (composite, _, _, value) in snapshot {
        let key = composite.key();
        if key.name() != name {
            continue;
        }
        let matches = labels.iter().all(|(k, v)| {
            key.labels()
                .any(|label| label.key() == *k && label.value() == *v)
        });
        if let (true, DebugValue::Counter(value)) = (matches, value) {
            total += *value;
        }
    }
    total
}

#[tokio::test]
async fn metered_storage_passes_the_conformance_suite() {
    let metered = MeteredStorage::new(Arc::new(InMemoryStorage::new()));
    conformance::run_all(&metered, Capabilities::default()).await;
}

#[test]
fn counts_requests_and_bytes_as_they_flow() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let metered = MeteredStorage::new(Arc::new(InMemoryStorage::new()));
            let a = key("a");
            metered
                .put_bytes(&a, Bytes::from("hello"), PutOptions::default())
                .await
                .unwrap();
            metered
                .put_bytes(&key("b"), Bytes::from("abc"), PutOptions::default())
                .await
                .unwrap();
            assert_eq!(metered.get_bytes(&a).await.unwrap(), "hello");
            // A body that is never read counts no bytes out.
            let unread = metered.get(&a, GetOptions::default()).await.unwrap();
            drop(unread);
            // A body read in part counts that part.
            let range = GetOptions {
                range: Some(seam_storage::ByteRange::Suffix { len: 2 }),
            };
            let mut body = metered.get(&a, range).await.unwrap().body;
            while let Some(chunk) = body.next().await {
                chunk.unwrap();
            }
            metered.head(&a).await.unwrap();
            assert!(metered.head(&key("missing")).await.is_err());
            metered.delete(&a).await.unwrap();
            metered.list_all("").await.unwrap();
        });
    });
    let snapshot = snapshot(&snapshotter);
    let requests = |op: &str| {
        counter(
            &snapshot,
            REQUESTS_TOTAL,
            &[("adapter", "memory"), ("op", op)],
        )
    };
    assert_eq!(requests("put"), 2);
    assert_eq!(requests("get"), 3);
    assert_eq!(requests("head"), 2);
    assert_eq!(requests("delete"), 1);
    assert_eq!(requests("list"), 1);
    assert_eq!(requests("copy"), 0);
    assert_eq!(counter(&snapshot, BYTES_TOTAL, &[("direction", "in")]), 8);
    assert_eq!(counter(&snapshot, BYTES_TOTAL, &[("direction", "out")]), 7);
}

#[test]
fn port_metrics_record_outcomes() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let metered = MeteredStorage::new(Arc::new(InMemoryStorage::new())).with_port_metrics();
            metered
                .put_bytes(&key("a"), Bytes::from("x"), PutOptions::default())
                .await
                .unwrap();
            assert!(metered.head(&key("missing")).await.is_err());
        });
    });
    let snapshot = snapshot(&snapshotter);
    let calls = |op: &str, outcome: &str| {
        counter(
            &snapshot,
            "seam_port_calls_total",
            &[
                ("port", "storage"),
                ("adapter", "memory"),
                ("op", op),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(calls("put", "ok"), 1);
    assert_eq!(calls("head", "not_found"), 1);
}
