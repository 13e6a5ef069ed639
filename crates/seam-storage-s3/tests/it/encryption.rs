//! Encryption and storage-class settings against the real server: requests carrying
//! them succeed (s3s-fs accepts and ignores SSE; the exact headers are checked against
//! wiremock in `headers`).

use bytes::Bytes;
use seam_storage::{ObjectStorage, ObjectStorageExt, PutOptions};
use seam_storage_s3::{MIN_PART_SIZE, Sse};

use crate::{cleanup, key, pattern, test_config};

#[tokio::test]
async fn writes_with_encryption_and_a_storage_class_succeed() {
    for sse in [
        Sse::S3,
        Sse::Kms {
            key_id: Some("alias/seam-test".into()),
        },
    ] {
        let mut config = test_config();
        config.server_side_encryption = Some(sse.clone());
        config.storage_class = Some("REDUCED_REDUNDANCY".into());
        config.multipart_threshold = MIN_PART_SIZE;
        config.part_size = MIN_PART_SIZE;
        let storage = config.build().unwrap();

        let small = key("sse/small.txt");
        storage
            .put_bytes(
                &small,
                Bytes::from_static(b"encrypted"),
                PutOptions::default(),
            )
            .await
            .unwrap_or_else(|error| panic!("{sse:?} single put: {error}"));
        assert_eq!(storage.get_bytes(&small).await.unwrap(), "encrypted");

        let big = key("sse/big.bin");
        let data = pattern(MIN_PART_SIZE as usize + 100, 3);
        storage
            .put_bytes(&big, data.clone(), PutOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{sse:?} multipart put: {error}"));
        assert_eq!(storage.get_bytes(&big).await.unwrap(), data);

        let copy = key("sse/copy.txt");
        storage
            .copy(&small, &copy)
            .await
            .unwrap_or_else(|error| panic!("{sse:?} copy: {error}"));
        assert_eq!(storage.get_bytes(&copy).await.unwrap(), "encrypted");
        cleanup(&storage).await;
    }
}
