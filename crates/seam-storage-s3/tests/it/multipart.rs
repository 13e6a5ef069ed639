//! Multipart uploads: resumable by hand, and streamed by `put` for long bodies.

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use seam_storage::{
    ByteStream, Error, GetOptions, ObjectStorage, ObjectStorageExt, PutMode, PutOptions,
};
use seam_storage_s3::{MIB, MIN_PART_SIZE, UploadState};

use crate::{cleanup, key, pattern, put, test_config, test_storage};

const PART: usize = MIN_PART_SIZE as usize;

#[tokio::test]
async fn an_upload_resumes_after_its_handle_is_lost_and_completes() {
    let storage = test_storage();
    let key = key("multipart/resumed.bin");
    let options = PutOptions {
        content_type: Some("application/octet-stream".into()),
        metadata: [("batch".to_owned(), "42".to_owned())].into(),
        ..PutOptions::default()
    };
    let (one, two, three) = (pattern(PART, 1), pattern(PART, 2), pattern(1234, 3));

    let mut upload = storage.start_upload(&key, &options).await.unwrap();
    let upload_id = upload.upload_id().to_owned();
    let first = upload.upload_part(1, one.clone()).await.unwrap();
    let second = upload.upload_part(2, two.clone()).await.unwrap();
    assert_eq!((first.number, first.size), (1, PART as u64));
    assert_eq!(
        upload.completed_parts(),
        vec![first.clone(), second.clone()]
    );
    // The process persists its state, then "crashes": only the saved JSON survives.
    let saved = serde_json::to_string(&upload.state()).unwrap();
    drop(upload);

    // With the upload id alone, only parts S3 lists with an ETag count as sent (s3s-fs
    // lists none); whatever is listed must be what was sent.
    let by_id = storage.resume(&key, &upload_id).await.unwrap();
    for part in by_id.completed_parts() {
        assert!([&first, &second].contains(&&part), "{part:?}");
    }

    let state: UploadState = serde_json::from_str(&saved).unwrap();
    let mut resumed = storage.resume_from(state).await.unwrap();
    assert_eq!(resumed.upload_id(), upload_id);
    assert_eq!(resumed.key(), &key);
    assert_eq!(
        resumed.completed_parts(),
        vec![first, second],
        "S3 still holds both parts sent before the crash"
    );
    assert!(resumed.has_part(2) && !resumed.has_part(3));

    resumed.upload_part(3, three.clone()).await.unwrap();
    let written = resumed.complete().await.unwrap();
    assert_eq!(written.size, (2 * PART + 1234) as u64);

    let mut expected = BytesMut::new();
    for part in [&one, &two, &three] {
        expected.extend_from_slice(part);
    }
    assert_eq!(storage.get_bytes(&key).await.unwrap(), expected.freeze());
    let meta = storage.head(&key).await.unwrap();
    assert_eq!(meta.size, written.size);
    assert_eq!(meta.metadata.get("batch").map(String::as_str), Some("42"));
    assert_eq!(
        meta.content_type.as_deref(),
        Some("application/octet-stream")
    );
    cleanup(&storage).await;
}

#[tokio::test]
async fn an_aborted_upload_is_gone_and_leaves_no_object() {
    let storage = test_storage();
    let key = key("multipart/aborted.bin");
    let mut upload = storage
        .start_upload(&key, &PutOptions::default())
        .await
        .unwrap();
    upload.upload_part(1, pattern(1000, 1)).await.unwrap();
    let state = upload.state();
    upload.abort().await.unwrap();

    // AWS answers NoSuchUpload (NotFound); s3s-fs lists no parts for it. Either way
    // nothing sent before the abort counts any more.
    match storage.resume_from(state).await {
        Err(error) => assert!(matches!(error, Error::NotFound { .. }), "{error}"),
        Ok(resumed) => assert_eq!(resumed.completed_parts(), vec![]),
    }
    let error = storage.head(&key).await.unwrap_err();
    assert!(error.is_not_found(), "{error}");
}

#[tokio::test]
async fn bad_part_numbers_and_empty_uploads_are_invalid() {
    let storage = test_storage();
    let key = key("multipart/invalid.bin");
    let mut upload = storage
        .start_upload(&key, &PutOptions::default())
        .await
        .unwrap();
    for number in [0, 10_001] {
        let error = upload
            .upload_part(number, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{number}: {error}");
    }
    let error = upload.upload_part(1, Bytes::new()).await.unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error}");
    let error = upload.complete().await.unwrap_err();
    assert!(matches!(error, Error::Invalid(_)), "{error}");
    upload.abort().await.unwrap();
}

/// A body of `len` bytes in chunks of `chunk` bytes.
fn chunked(data: Bytes, chunk: usize) -> ByteStream {
    let chunks: Vec<_> = (0..data.len())
        .step_by(chunk)
        .map(|start| Ok(data.slice(start..(start + chunk).min(data.len()))))
        .collect();
    stream::iter(chunks).boxed()
}

#[tokio::test]
async fn put_streams_a_long_body_as_multipart_and_reads_it_back() {
    let mut config = test_config();
    config.multipart_threshold = MIN_PART_SIZE;
    config.part_size = MIN_PART_SIZE;
    let storage = config.build().unwrap();
    let key = key("multipart/streamed.bin");
    // Three parts: 5 MiB, 5 MiB and a short tail, sent in odd-sized chunks.
    let data = pattern(2 * PART + 300_000, 9);
    let written = storage
        .put(&key, chunked(data.clone(), 777_777), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(written.size, data.len() as u64);
    assert_eq!(storage.get_bytes(&key).await.unwrap(), data);

    // A range across the part boundary.
    let range = seam_storage::ByteRange::Bounded {
        start: PART as u64 - 10,
        end_exclusive: PART as u64 + 10,
    };
    let got = storage
        .get(&key, GetOptions { range: Some(range) })
        .await
        .unwrap();
    assert_eq!(got.range, PART as u64 - 10..PART as u64 + 10);
    assert_eq!(got.meta.size, data.len() as u64);
    let bytes = seam_storage::body::collect(got.body, 20).await.unwrap();
    assert_eq!(bytes, data.slice(PART - 10..PART + 10));
    cleanup(&storage).await;
}

#[tokio::test]
async fn a_body_at_the_threshold_is_one_put() {
    let mut config = test_config();
    config.multipart_threshold = 6 * MIB;
    let storage = config.build().unwrap();
    let key = key("multipart/single.bin");
    let data = pattern(6 * MIB as usize, 4);
    storage
        .put(&key, chunked(data.clone(), 1 << 20), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(storage.get_bytes(&key).await.unwrap(), data);
    cleanup(&storage).await;
}

#[tokio::test]
async fn a_failing_stream_during_multipart_leaves_the_old_object() {
    let mut config = test_config();
    config.multipart_threshold = MIN_PART_SIZE;
    config.part_size = MIN_PART_SIZE;
    let storage = config.build().unwrap();
    let key = key("multipart/failing.bin");
    put(&storage, &key, "the old content").await;

    let good = pattern(PART + 1000, 5);
    let body = stream::iter([
        Ok(good.slice(..PART)),
        Ok(good.slice(PART..)),
        Ok(pattern(PART, 6)),
        Err(Error::transient("the uploader's disk failed")),
    ])
    .boxed();
    let error = storage
        .put(&key, body, PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transient { message, .. } if message == "the uploader's disk failed"),
        "the stream's own error: {error}"
    );
    assert_eq!(storage.get_bytes(&key).await.unwrap(), "the old content");
    cleanup(&storage).await;
}

#[tokio::test]
async fn create_mode_refuses_an_existing_key_for_long_bodies_too() {
    let mut config = test_config();
    config.multipart_threshold = MIN_PART_SIZE;
    config.part_size = MIN_PART_SIZE;
    let storage = config.build().unwrap();
    let key = key("multipart/exists.bin");
    put(&storage, &key, "first").await;
    let create = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    let error = storage
        .put(
            &key,
            chunked(pattern(PART + 10, 1), 1 << 20),
            create.clone(),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, Error::AlreadyExists { .. }), "{error}");
    assert_eq!(storage.get_bytes(&key).await.unwrap(), "first");

    // And succeeds where nothing exists.
    let fresh = crate::key("multipart/fresh.bin");
    let data = pattern(PART + 10, 2);
    storage
        .put(&fresh, chunked(data.clone(), 1 << 20), create)
        .await
        .unwrap();
    assert_eq!(storage.get_bytes(&fresh).await.unwrap(), data);
    cleanup(&storage).await;
}

#[tokio::test]
async fn pending_uploads_answer_or_say_the_server_lacks_them() {
    let storage = test_storage();
    let key = key("multipart/pending.bin");
    let upload = storage
        .start_upload(&key, &PutOptions::default())
        .await
        .unwrap();
    // AWS lists the open upload; s3s-fs does not implement ListMultipartUploads.
    match storage.pending_uploads("multipart/").await {
        Ok(pending) => assert!(
            pending
                .iter()
                .any(|p| p.key == key && p.upload_id == upload.upload_id()),
            "{pending:?}"
        ),
        Err(error) => assert!(
            matches!(
                error,
                Error::NotSupported {
                    operation: "list_multipart_uploads",
                    adapter: "s3"
                }
            ),
            "{error}"
        ),
    }
    upload.abort().await.unwrap();
}
