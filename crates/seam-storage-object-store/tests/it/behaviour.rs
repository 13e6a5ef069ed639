//! What this adapter adds to the port's contract, run on every backend: bodies above the
//! multipart threshold, failing and cancelled uploads, attributes through multipart.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, stream};
use seam_storage::{
    ByteRange, ByteStream, Error, GetOptions, ObjectKey, ObjectStorage, ObjectStorageExt, PutMode,
    PutOptions,
};

/// The multipart threshold and part size the tests configure (the smallest S3 allows).
pub(crate) const PART: usize = 5 * 1024 * 1024;

/// `len` bytes that differ from position to position, so a misplaced part shows.
pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + i / 7919) as u8) ^ seed)
        .collect()
}

/// `data` as a stream of `chunk`-byte chunks.
pub(crate) fn chunked(data: Vec<u8>, chunk: usize) -> ByteStream {
    let data = Bytes::from(data);
    let chunks: Vec<_> = (0..data.len())
        .step_by(chunk)
        .map(|start| Ok(data.slice(start..(start + chunk).min(data.len()))))
        .collect();
    stream::iter(chunks).boxed()
}

/// A body above the threshold goes up in parts and comes back byte for byte, with its
/// content type and metadata; a range inside a later part is read exactly.
pub(crate) async fn multipart_round_trip(storage: &dyn ObjectStorage, prefix: &str) {
    let key = ObjectKey::parse(&format!("{prefix}/big.bin")).unwrap();
    let len = 2 * PART + 12_345;
    let data = pattern(len, 7);
    let options = PutOptions {
        content_type: Some("application/x-seam-test".into()),
        metadata: BTreeMap::from([("batch".into(), "b-42".into())]),
        ..PutOptions::default()
    };
    let put = storage
        .put(&key, chunked(data.clone(), 256 * 1024), options)
        .await
        .unwrap();
    assert_eq!(put.size, len as u64);

    let meta = storage.head(&key).await.unwrap();
    assert_eq!(meta.size, len as u64);
    assert_eq!(
        meta.content_type.as_deref(),
        Some("application/x-seam-test")
    );
    assert_eq!(meta.metadata.get("batch").map(String::as_str), Some("b-42"));

    let back = storage.get_bytes(&key).await.unwrap();
    assert!(
        back == data,
        "the multipart object differs from what was written"
    );

    let start = (PART + 1000) as u64;
    let range = ByteRange::Bounded {
        start,
        end_exclusive: start + 4096,
    };
    let result = storage
        .get(&key, GetOptions { range: Some(range) })
        .await
        .unwrap();
    assert_eq!(result.range, start..start + 4096);
    let bytes = seam_storage::body::collect(result.body, 4096)
        .await
        .unwrap();
    assert_eq!(&bytes[..], &data[start as usize..start as usize + 4096]);
    storage.delete(&key).await.unwrap();
}

/// A body that fails after the multipart upload began leaves the previous object
/// unchanged and returns the body's error.
pub(crate) async fn failing_multipart_body_keeps_the_old_object(
    storage: &dyn ObjectStorage,
    prefix: &str,
) {
    let key = ObjectKey::parse(&format!("{prefix}/kept.bin")).unwrap();
    storage
        .put_bytes(
            &key,
            Bytes::from_static(b"the old content"),
            PutOptions::default(),
        )
        .await
        .unwrap();

    let good = chunked(pattern(2 * PART, 3), 1024 * 1024);
    let failing = good.chain(stream::once(async {
        Err(Error::transient("the client went away"))
    }));
    let error = storage
        .put(&key, failing.boxed(), PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transient { message, .. } if message == "the client went away"),
        "{error:?}"
    );
    assert_eq!(storage.get_bytes(&key).await.unwrap(), "the old content");
    storage.delete(&key).await.unwrap();
}

/// A cancelled upload (the caller dropped the future after the first part went out)
/// creates no object.
pub(crate) async fn cancelled_upload_leaves_nothing(storage: &dyn ObjectStorage, prefix: &str) {
    let key = ObjectKey::parse(&format!("{prefix}/cancelled.bin")).unwrap();
    let (sent_tx, sent_rx) = tokio::sync::oneshot::channel::<()>();
    // More than a part, then a signal, then a body that never ends.
    let signal = stream::once(async move {
        let _ = sent_tx.send(());
        futures::future::pending::<Result<Bytes, Error>>().await
    });
    let body = chunked(pattern(PART + 1024, 5), 1024 * 1024)
        .chain(signal)
        .boxed();
    let upload = storage.put(&key, body, PutOptions::default());
    tokio::select! {
        result = upload => panic!("the upload finished without its body: {result:?}"),
        _ = sent_rx => {}
    }
    assert!(!storage.exists(&key).await.unwrap());
}

/// A create-only write of a large body is refused when the key exists, and writes when
/// it does not.
pub(crate) async fn create_only_large_body(storage: &dyn ObjectStorage, prefix: &str) {
    let key = ObjectKey::parse(&format!("{prefix}/create.bin")).unwrap();
    let data = pattern(PART + 10, 9);
    let create = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    storage
        .put(&key, chunked(data.clone(), 1024 * 1024), create.clone())
        .await
        .unwrap();
    let again = storage
        .put(&key, chunked(pattern(PART + 10, 1), 1024 * 1024), create)
        .await;
    assert!(
        matches!(again, Err(Error::AlreadyExists { .. })),
        "{again:?}"
    );
    assert!(storage.get_bytes(&key).await.unwrap() == data);
    storage.delete(&key).await.unwrap();
}
