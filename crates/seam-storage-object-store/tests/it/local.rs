//! The adapter on a local directory (a fresh temporary one per test).

use std::path::Path;

use bytes::Bytes;
use seam_storage::{ObjectKey, ObjectStorage, ObjectStorageExt, PutOptions};
use seam_storage_object_store::{ObjectStoreConfig, ObjectStoreStorage};

use crate::behaviour::{self, PART};

fn local(root: &Path) -> ObjectStoreStorage {
    let mut config = ObjectStoreConfig::local(root);
    config.multipart_threshold = PART as u64;
    config.part_size = PART;
    config.build().expect("a local configuration builds")
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn multipart_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    behaviour::multipart_round_trip(&local(dir.path()), "it").await;
}

#[tokio::test]
async fn failing_multipart_body_keeps_the_old_object() {
    let dir = tempfile::tempdir().unwrap();
    behaviour::failing_multipart_body_keeps_the_old_object(&local(dir.path()), "it").await;
}

#[tokio::test]
async fn create_only_large_body() {
    let dir = tempfile::tempdir().unwrap();
    behaviour::create_only_large_body(&local(dir.path()), "it").await;
}

#[tokio::test]
async fn cancelled_upload_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    behaviour::cancelled_upload_leaves_nothing(&local(dir.path()), "it").await;
    // The abort runs as a task of its own once the upload is dropped: give it turns.
    for _ in 0..500 {
        if files_under(dir.path()).is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("left behind: {:?}", files_under(dir.path()));
}

#[tokio::test]
async fn objects_are_plain_files_under_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let storage = local(dir.path());
    let key = ObjectKey::parse("invoices/2026/100% done é.txt").unwrap();
    storage
        .put_bytes(&key, Bytes::from_static(b"paid"), PutOptions::default())
        .await
        .unwrap();
    let file = dir.path().join("invoices/2026/100% done é.txt");
    assert_eq!(std::fs::read(&file).unwrap(), b"paid");
    assert_eq!(files_under(dir.path()), ["invoices/2026/100% done é.txt"]);
    storage.delete(&key).await.unwrap();
    assert!(files_under(dir.path()).is_empty());
}

#[tokio::test]
async fn a_key_and_keys_under_it_cannot_both_be_files() {
    let dir = tempfile::tempdir().unwrap();
    let storage = local(dir.path());
    let parent = ObjectKey::parse("c").unwrap();
    let child = ObjectKey::parse("c/d").unwrap();
    storage
        .put_bytes(&child, Bytes::from_static(b"child"), PutOptions::default())
        .await
        .unwrap();
    let error = storage
        .put_bytes(
            &parent,
            Bytes::from_static(b"parent"),
            PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, seam_storage::Error::Invalid(message) if message.contains("`a` and `a/b`")),
        "{error:?}"
    );
    storage.delete(&child).await.unwrap();
    // With the child gone (and its empty directory cleaned up) the parent fits.
    storage
        .put_bytes(
            &parent,
            Bytes::from_static(b"parent"),
            PutOptions::default(),
        )
        .await
        .unwrap();
    let error = storage
        .put_bytes(&child, Bytes::from_static(b"child"), PutOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(error, seam_storage::Error::Invalid(_)),
        "{error:?}"
    );
    assert_eq!(storage.get_bytes(&parent).await.unwrap(), "parent");
}
