//! Mirroring: writes reach both stores, reads survive a primary outage, verify finds drift.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use seam_storage::conformance::{self, Capabilities};
use seam_storage::mirror::{self, MirrorMode, MirrorOp, MirroredStorage};
use seam_storage::{
    Error, GetOptions, InMemoryStorage, ObjectStorage, ObjectStorageExt, PutOptions,
};

use crate::support::{RecordingQueue, Switchable, key};

#[tokio::test]
async fn sync_mirror_passes_the_conformance_suite_and_keeps_both_in_step() {
    let primary = Arc::new(InMemoryStorage::new());
    let secondary = Arc::new(InMemoryStorage::new());
    let mirrored = MirroredStorage::new(primary.clone(), secondary.clone(), MirrorMode::Sync);
    conformance::run_all(&mirrored, Capabilities::default()).await;
    assert!(
        primary.is_empty() && secondary.is_empty(),
        "{:?}",
        secondary.keys()
    );

    let options = PutOptions {
        content_type: Some("text/plain".into()),
        public: true,
        ..PutOptions::default()
    };
    mirrored
        .put_bytes(&key("a"), Bytes::from("one"), options)
        .await
        .unwrap();
    mirrored.copy(&key("a"), &key("b")).await.unwrap();
    assert_eq!(secondary.get_bytes(&key("b")).await.unwrap(), "one");
    let meta = secondary.head(&key("a")).await.unwrap();
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert!(meta.public);
    mirrored.delete(&key("a")).await.unwrap();
    assert!(!secondary.exists(&key("a")).await.unwrap());
    let report = mirror::verify(primary.as_ref(), secondary.as_ref(), "")
        .await
        .unwrap();
    assert!(report.is_consistent(), "{report:?}");
    assert_eq!(report.checked, 1);
}

#[tokio::test]
async fn a_secondary_failure_fails_a_sync_write() {
    let primary = Arc::new(InMemoryStorage::new());
    let secondary = Switchable::new();
    let mirrored = MirroredStorage::new(primary.clone(), secondary.clone(), MirrorMode::Sync);
    secondary.set_down(true);
    let result = mirrored
        .put_bytes(&key("a"), Bytes::from("x"), PutOptions::default())
        .await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    // The primary holds it; verify shows what the mirror lacks.
    secondary.set_down(false);
    let report = mirror::verify(primary.as_ref(), secondary.as_ref(), "")
        .await
        .unwrap();
    assert_eq!(report.missing, [key("a")]);
}

#[tokio::test]
async fn reads_fall_back_to_the_mirror_when_the_primary_is_down() {
    let primary = Switchable::new();
    let secondary = Arc::new(InMemoryStorage::new());
    let mirrored = MirroredStorage::new(primary.clone(), secondary.clone(), MirrorMode::Sync);
    mirrored
        .put_bytes(&key("doc"), Bytes::from("safe"), PutOptions::default())
        .await
        .unwrap();

    primary.set_down(true);
    assert_eq!(mirrored.get_bytes(&key("doc")).await.unwrap(), "safe");
    assert_eq!(mirrored.head(&key("doc")).await.unwrap().size, 4);
    assert!(
        matches!(
            mirrored
                .put_bytes(&key("new"), Bytes::from("x"), PutOptions::default())
                .await,
            Err(Error::Unavailable(_))
        ),
        "writes need the primary"
    );
    assert!(
        matches!(
            mirrored.list(seam_storage::ListOptions::default()).await,
            Err(Error::Unavailable(_))
        ),
        "listing uses the primary only"
    );

    // NotFound from a healthy primary is an answer, not a reason to ask the mirror.
    primary.set_down(false);
    secondary
        .put_bytes(
            &key("only-mirror"),
            Bytes::from("stale"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    assert!(matches!(
        mirrored
            .get(&key("only-mirror"), GetOptions::default())
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn deferred_mode_queues_ops_that_apply_later() {
    let primary = Arc::new(InMemoryStorage::new());
    let secondary = Arc::new(InMemoryStorage::new());
    let queue = Arc::new(RecordingQueue::default());
    let mirrored = MirroredStorage::new(
        primary.clone(),
        secondary.clone(),
        MirrorMode::Deferred(queue.clone()),
    );
    mirrored
        .put_bytes(&key("a"), Bytes::from("1"), PutOptions::default())
        .await
        .unwrap();
    mirrored.copy(&key("a"), &key("b")).await.unwrap();
    mirrored
        .put_bytes(&key("gone"), Bytes::from("2"), PutOptions::default())
        .await
        .unwrap();
    mirrored.delete(&key("gone")).await.unwrap();
    assert!(
        secondary.is_empty(),
        "nothing is mirrored before the queue drains"
    );
    let ops = queue.take();
    assert_eq!(
        ops,
        [
            MirrorOp::Copy { key: key("a") },
            MirrorOp::Copy { key: key("b") },
            MirrorOp::Copy { key: key("gone") },
            MirrorOp::Delete { key: key("gone") },
        ]
    );
    for op in &ops {
        // Ops travel as JSON through a real queue.
        let op: MirrorOp = serde_json::from_str(&serde_json::to_string(op).unwrap()).unwrap();
        mirror::apply(primary.as_ref(), secondary.as_ref(), &op)
            .await
            .unwrap();
        // Applying twice is harmless.
        mirror::apply(primary.as_ref(), secondary.as_ref(), &op)
            .await
            .unwrap();
    }
    assert_eq!(secondary.keys(), [key("a"), key("b")]);
    let report = mirror::verify(primary.as_ref(), secondary.as_ref(), "")
        .await
        .unwrap();
    assert!(report.is_consistent(), "{report:?}");

    queue.refuse.store(true, Ordering::SeqCst);
    assert!(
        mirrored
            .put_bytes(&key("c"), Bytes::from("3"), PutOptions::default())
            .await
            .is_err(),
        "a write whose mirror op cannot be queued fails"
    );
}

#[tokio::test]
async fn verify_finds_missing_and_changed_objects() {
    let primary = Arc::new(InMemoryStorage::new());
    let secondary = Switchable::new();
    let mirrored = MirroredStorage::new(primary.clone(), secondary.clone(), MirrorMode::Sync);
    for (name, body) in [
        ("docs/a", "aaa"),
        ("docs/b", "bbb"),
        ("docs/c", "ccc"),
        ("docs/d", "ddd"),
        ("other/e", "e"),
    ] {
        mirrored
            .put_bytes(&key(name), Bytes::from(body), PutOptions::default())
            .await
            .unwrap();
    }
    secondary.inner.delete(&key("docs/b")).await.unwrap();
    // Same size, other content: only the content check can tell.
    secondary
        .inner
        .put_bytes(&key("docs/c"), Bytes::from("xxx"), PutOptions::default())
        .await
        .unwrap();
    secondary
        .inner
        .put_bytes(&key("docs/d"), Bytes::from("longer"), PutOptions::default())
        .await
        .unwrap();

    let report = mirror::verify(primary.as_ref(), secondary.as_ref(), "docs/")
        .await
        .unwrap();
    assert_eq!(report.missing, [key("docs/b")]);
    assert_eq!(report.different, [key("docs/c"), key("docs/d")]);
    assert_eq!(report.checked, 4);
    assert!(!report.is_consistent());

    secondary.set_down(true);
    assert!(matches!(
        mirror::verify(primary.as_ref(), secondary.as_ref(), "docs/").await,
        Err(Error::Unavailable(_))
    ));
}
