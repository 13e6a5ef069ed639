//! Every call is recorded as
//! `seam_port_calls_total{port="storage",adapter="object_store-<backend>",op,outcome}`.

use bytes::Bytes;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use seam_storage::{ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions};
use seam_storage_object_store::ObjectStoreConfig;

#[test]
fn calls_are_counted_by_op_and_outcome() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let storage = ObjectStoreConfig::local(dir.path()).build().unwrap();
            let key = ObjectKey::parse("counted.txt").unwrap();
            storage
                .put_bytes(&key, Bytes::from_static(b"x"), PutOptions::default())
                .await
                .unwrap();
            storage.head(&key).await.unwrap();
            storage.delete(&key).await.unwrap();
            storage.head(&key).await.unwrap_err();
        });
    });
    // One snapshot: taking it resets what it read.
    let snapshot = snapshotter.snapshot().into_vec();
    let counted = |op: &str, outcome: &str| -> u64 {
        snapshot
            .iter()
            .filter(|(key, ..)| {
                key.kind() == MetricKind::Counter
                    && key.key().name() == "seam_port_calls_total"
                    && [
                        ("port", "storage"),
                        ("adapter", "object_store-local"),
                        ("op", op),
                        ("outcome", outcome),
                    ]
                    .iter()
                    .all(|(name, value)| {
                        key.key()
                            .labels()
                            .any(|label| label.key() == *name && label.value() == *value)
                    })
            })
            .map(|(.., value)| match value {
                DebugValue::Counter(count) => *count,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counted("put", "ok"), 1);
    assert_eq!(counted("head", "ok"), 1);
    assert_eq!(counted("delete", "ok"), 1);
    assert_eq!(counted("head", "not_found"), 1);
}
