//! The conformance suite every [`ObjectStorage`] adapter runs against its real backend.
//!
//! An adapter's integration test calls [`run_all`] (or the individual checks) with the
//! storage and its [`Capabilities`]. Every check works under its own random prefix
//! (`conformance/<uuid>/`) and deletes what it wrote, so parallel tests and earlier
//! runs never see each other's objects. A failed check panics with a message naming the
//! contract line it broke.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};

use crate::body::{self, ByteStream};
use crate::error::{BoxError, Error};
use crate::key::{BAD_KEYS, ObjectKey, validate_prefix};
use crate::types::{
    ByteRange, GetOptions, ListOptions, ObjectMeta, PutMode, PutOptions, SignedMethod,
};
use crate::{ObjectStorage, ObjectStorageExt};

/// The default size of the large-object check (50 MiB).
pub const DEFAULT_MAX_TEST_BODY: u64 = 50 * 1024 * 1024;
const LARGE_CHUNK: usize = 1024 * 1024;

/// A plain HTTP client the suite uses to try signed URLs, so the port itself needs none.
/// Adapter tests implement it with `reqwest`.
#[async_trait]
pub trait SignedUrlClient: Debug + Send + Sync {
    /// `GET url`: the status and the body.
    async fn get(&self, url: &str) -> Result<(u16, Bytes), BoxError>;

    /// `PUT url` with `body` (and a `Content-Type` header when given): the status.
    async fn put(
        &self,
        url: &str,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<u16, BoxError>;
}

/// What the adapter under test can do.
#[derive(Debug, Clone)]
pub struct Capabilities {
    /// Whether `signed_url` works; when `false` the suite expects [`Error::NotSupported`].
    pub signed_urls: bool,
    /// The size of the large-object check, streamed in 1 MiB chunks.
    pub max_test_body: u64,
    /// The client to try signed URLs with; without one the suite only checks their shape.
    pub signed_url_client: Option<Arc<dyn SignedUrlClient>>,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            signed_urls: false,
            max_test_body: DEFAULT_MAX_TEST_BODY,
            signed_url_client: None,
        }
    }
}

/// Runs every check, one after the other.
pub async fn run_all(storage: &dyn ObjectStorage, caps: Capabilities) {
    round_trips_empty_and_small_objects(storage).await;
    streams_a_large_object(storage, caps.max_test_body).await;
    reads_ranges(storage).await;
    round_trips_metadata_and_content_type(storage).await;
    refuses_bad_options(storage).await;
    lists_in_order_across_pages(storage).await;
    list_prefixes_isolate(storage).await;
    continuation_token_stays_within_its_prefix(storage).await;
    copies_objects(storage).await;
    deletes_idempotently(storage).await;
    missing_keys_are_not_found(storage).await;
    create_mode_refuses_existing_objects(storage).await;
    concurrent_creates_have_one_winner(storage).await;
    failed_body_leaves_the_previous_object(storage).await;
    refuses_bad_keys_and_prefixes(storage).await;
    signed_urls(storage, &caps).await;
}

/// A fresh prefix for one check: `conformance/<uuid>/`.
pub fn unique_prefix() -> String {
    format!("conformance/{}/", uuid::Uuid::now_v7().simple())
}

fn key(prefix: &str, name: &str) -> ObjectKey {
    ObjectKey::parse(&format!("{prefix}{name}"))
        .unwrap_or_else(|error| panic!("the suite built a bad key: {error}"))
}

/// Deletes everything under `prefix` (the suite's cleanup; adapters' tests may use it).
pub async fn cleanup(storage: &dyn ObjectStorage, prefix: &str) {
    let objects = storage
        .list_all(prefix)
        .await
        .unwrap_or_else(|error| panic!("cleanup: listing {prefix} failed: {error:?}"));
    for meta in objects {
        storage
            .delete(&meta.key)
            .await
            .unwrap_or_else(|error| panic!("cleanup: deleting {} failed: {error:?}", meta.key));
    }
}

async fn put(storage: &dyn ObjectStorage, key: &ObjectKey, bytes: &'static [u8]) {
    storage
        .put_bytes(key, Bytes::from_static(bytes), PutOptions::default())
        .await
        .unwrap_or_else(|error| panic!("put {key} failed: {error:?}"));
}

async fn read(storage: &dyn ObjectStorage, key: &ObjectKey) -> Bytes {
    storage
        .get_bytes(key)
        .await
        .unwrap_or_else(|error| panic!("get {key} failed: {error:?}"))
}

/// `put` stores bodies exactly, including the empty one; `get`, `head` and `put`'s
/// result agree on the size; an overwrite replaces the content.
pub async fn round_trips_empty_and_small_objects(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let empty = key(&prefix, "empty");
    let result = storage
        .put(
            &empty,
            body::from_bytes(Bytes::new()),
            PutOptions::default(),
        )
        .await
        .unwrap_or_else(|error| panic!("put of an empty body failed: {error:?}"));
    assert_eq!(result.size, 0, "put MUST return the stored size");
    assert_eq!(read(storage, &empty).await, "", "empty body");
    let got = storage.get(&empty, GetOptions::default()).await.unwrap();
    assert_eq!(got.range, 0..0, "range of an empty object");
    assert_eq!(storage.head(&empty).await.unwrap().size, 0);

    let small = key(&prefix, "dir/small.txt");
    let chunks: ByteStream = stream::iter(
        [&b"hello, "[..], b"", b"world"]
            .into_iter()
            .map(|chunk| Ok(Bytes::from_static(chunk))),
    )
    .boxed();
    let result = storage
        .put(&small, chunks, PutOptions::default())
        .await
        .unwrap_or_else(|error| panic!("put of a chunked body failed: {error:?}"));
    assert_eq!(result.size, 12, "put MUST return the stored size");
    assert_eq!(read(storage, &small).await, "hello, world");
    let meta = storage.head(&small).await.unwrap();
    assert_eq!(meta.key, small, "head MUST name the key");
    assert_eq!(meta.size, 12);
    let got = storage.get(&small, GetOptions::default()).await.unwrap();
    assert_eq!(got.range, 0..12);
    assert_eq!(got.meta.size, 12);

    put(storage, &small, b"replaced").await;
    assert_eq!(read(storage, &small).await, "replaced", "overwrite");
    let replaced = storage.head(&small).await.unwrap();
    assert_eq!(replaced.size, 8);
    if let (Some(before), Some(after)) = (&meta.etag, &replaced.etag) {
        assert_ne!(before, after, "the etag MUST change with the content");
    }
    cleanup(storage, &prefix).await;
}

fn large_chunk(pattern: &Bytes, index: u64, len: usize) -> Bytes {
    // Each chunk starts with its index, so a reordered or repeated chunk changes the hash.
    let mut chunk = BytesMut::from(&pattern[..len]);
    let tag = index.to_be_bytes();
    let n = tag.len().min(len);
    chunk[..n].copy_from_slice(&tag[..n]);
    chunk.freeze()
}

/// A body of `size` bytes (default 50 MiB) streams in and out; it is generated chunk by
/// chunk and checked by a streaming SHA-256, so the suite never holds it whole.
pub async fn streams_a_large_object(storage: &dyn ObjectStorage, size: u64) {
    let prefix = unique_prefix();
    let large = key(&prefix, "large.bin");
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let pattern: Bytes = (0..LARGE_CHUNK)
        .map(|_| {
            // xorshift: cheap bytes that do not compress to nothing.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed.to_le_bytes()[0]
        })
        .collect::<Vec<u8>>()
        .into();
    let sent = Arc::new(Mutex::new(Sha256::new()));
    let hasher = Arc::clone(&sent);
    let body: ByteStream = stream::unfold(0u64, move |offset| {
        let pattern = pattern.clone();
        let hasher = Arc::clone(&hasher);
        async move {
            if offset >= size {
                return None;
            }
            let len = usize::try_from((size - offset).min(LARGE_CHUNK as u64)).ok()?;
            let chunk = large_chunk(&pattern, offset / LARGE_CHUNK as u64, len);
            hasher
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .update(&chunk);
            Some((Ok(chunk), offset + len as u64))
        }
    })
    .boxed();
    let result = storage
        .put(&large, body, PutOptions::default())
        .await
        .unwrap_or_else(|error| panic!("put of a {size}-byte stream failed: {error:?}"));
    assert_eq!(result.size, size, "put MUST return the stored size");
    let expected = sent
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
        .finalize();

    let got = storage
        .get(&large, GetOptions::default())
        .await
        .unwrap_or_else(|error| panic!("get of the large object failed: {error:?}"));
    assert_eq!(got.meta.size, size);
    assert_eq!(got.range, 0..size);
    let mut received = Sha256::new();
    let mut length = 0u64;
    let mut body = got.body;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap_or_else(|error| panic!("reading the large object: {error:?}"));
        length += chunk.len() as u64;
        received.update(&chunk);
    }
    assert_eq!(length, size, "get MUST return every byte");
    assert!(
        received.finalize() == expected,
        "get MUST return the bytes written (SHA-256 differs)"
    );
    cleanup(storage, &prefix).await;
}

/// Bounded, open-ended and suffix ranges return exactly their bytes; a range past the
/// end is [`Error::RangeNotSatisfiable`].
pub async fn reads_ranges(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let digits = key(&prefix, "digits");
    put(storage, &digits, b"0123456789").await;
    let cases = [
        (
            ByteRange::Bounded {
                start: 2,
                end_exclusive: 5,
            },
            2..5,
            "234",
        ),
        (
            ByteRange::Bounded {
                start: 8,
                end_exclusive: 100,
            },
            8..10,
            "89",
        ),
        (ByteRange::From { start: 7 }, 7..10, "789"),
        (ByteRange::From { start: 0 }, 0..10, "0123456789"),
        (ByteRange::Suffix { len: 3 }, 7..10, "789"),
        (ByteRange::Suffix { len: 30 }, 0..10, "0123456789"),
    ];
    for (range, expected_range, expected) in cases {
        let got = storage
            .get(&digits, GetOptions { range: Some(range) })
            .await
            .unwrap_or_else(|error| panic!("get {range} failed: {error:?}"));
        assert_eq!(got.range, expected_range, "range of {range}");
        assert_eq!(
            got.meta.size, 10,
            "meta.size is the whole object's ({range})"
        );
        let bytes = body::collect(got.body, 10).await.unwrap();
        assert_eq!(bytes, expected, "bytes of {range}");
    }
    for range in [
        ByteRange::From { start: 10 },
        ByteRange::Bounded {
            start: 10,
            end_exclusive: 20,
        },
        ByteRange::Suffix { len: 0 },
    ] {
        match storage
            .get(&digits, GetOptions { range: Some(range) })
            .await
        {
            Err(Error::RangeNotSatisfiable { size }) => assert_eq!(size, 10, "{range}"),
            other => panic!("{range} of 10 bytes MUST be RangeNotSatisfiable, got {other:?}"),
        }
    }
    cleanup(storage, &prefix).await;
}

/// The content type, the metadata and `public` come back from `head`, `get` and
/// `list`'s size; the etag of `put` is the etag of `head`.
pub async fn round_trips_metadata_and_content_type(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let doc = key(&prefix, "invoice.pdf");
    let metadata = BTreeMap::from([
        ("order-id".to_owned(), "ord-42".to_owned()),
        (
            "uploaded-by".to_owned(),
            "Ada Lovelace <ada@example.com>".to_owned(),
        ),
    ]);
    let options = PutOptions {
        content_type: Some("application/pdf".to_owned()),
        metadata: metadata.clone(),
        mode: PutMode::Overwrite,
        public: true,
    };
    let result = storage
        .put_bytes(&doc, Bytes::from_static(b"%PDF-1.7"), options)
        .await
        .unwrap_or_else(|error| panic!("put with metadata failed: {error:?}"));
    let check = |meta: &ObjectMeta, via: &str| {
        assert_eq!(meta.key, doc, "key via {via}");
        assert_eq!(meta.size, 8, "size via {via}");
        assert_eq!(
            meta.content_type.as_deref(),
            Some("application/pdf"),
            "content type via {via}"
        );
        assert_eq!(meta.metadata, metadata, "metadata via {via}");
        assert!(meta.public, "public via {via}");
        if let (Some(put), Some(got)) = (&result.etag, &meta.etag) {
            assert_eq!(put, got, "etag via {via} MUST be the etag put returned");
        }
    };
    check(&storage.head(&doc).await.unwrap(), "head");
    let got = storage.get(&doc, GetOptions::default()).await.unwrap();
    check(&got.meta, "get");
    let listed = storage.list_all(&prefix).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 8, "size via list");

    let plain = key(&prefix, "plain");
    put(storage, &plain, b"x").await;
    let meta = storage.head(&plain).await.unwrap();
    assert!(meta.metadata.is_empty(), "no metadata was written");
    assert!(!meta.public, "objects are private by default");
    cleanup(storage, &prefix).await;
}

/// Bad metadata, content types and page sizes are [`Error::Invalid`] and write nothing.
pub async fn refuses_bad_options(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let target = key(&prefix, "never");
    let bad = [
        BTreeMap::from([("Upper".to_owned(), "x".to_owned())]),
        BTreeMap::from([("under_score".to_owned(), "x".to_owned())]),
        BTreeMap::from([("k".to_owned(), "line\r\nX-Injected: 1".to_owned())]),
        BTreeMap::from([("k".to_owned(), "v".repeat(crate::MAX_METADATA_BYTES))]),
    ];
    for metadata in bad {
        let options = PutOptions {
            metadata: metadata.clone(),
            ..PutOptions::default()
        };
        match storage
            .put_bytes(&target, Bytes::from_static(b"x"), options)
            .await
        {
            Err(Error::Invalid(_)) => {}
            other => panic!("metadata {metadata:?} MUST be Invalid, got {other:?}"),
        }
    }
    let options = PutOptions {
        content_type: Some("text/plain\r\nX-Injected: 1".to_owned()),
        ..PutOptions::default()
    };
    match storage
        .put_bytes(&target, Bytes::from_static(b"x"), options)
        .await
    {
        Err(Error::Invalid(_)) => {}
        other => panic!("a content type with CRLF MUST be Invalid, got {other:?}"),
    }
    assert!(
        !storage.exists(&target).await.unwrap(),
        "a refused put MUST NOT write"
    );
    for page_size in [0, crate::MAX_PAGE_SIZE + 1] {
        let options = ListOptions {
            prefix: prefix.clone(),
            page_size,
            continuation: None,
        };
        match storage.list(options).await {
            Err(Error::Invalid(_)) => {}
            other => panic!("page size {page_size} MUST be Invalid, got {other:?}"),
        }
    }
    let options = ListOptions {
        prefix: prefix.clone(),
        page_size: 10,
        continuation: Some("not-a-token-this-adapter-issued".to_owned()),
    };
    match storage.list(options).await {
        Err(Error::Invalid(_)) => {}
        Ok(page) => assert!(
            page.objects
                .iter()
                .all(|meta| meta.key.starts_with(&prefix)),
            "a foreign token MUST NOT leave the prefix"
        ),
        Err(other) => panic!("a foreign token MUST be Invalid (or ignored), got {other:?}"),
    }
    cleanup(storage, &prefix).await;
}

/// Seven objects listed three by three: three pages, in key order, each once, the last
/// with `next: None`.
pub async fn lists_in_order_across_pages(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    // Written out of order; names chosen so byte order differs from "natural" order
    // (`c.x` < `c/d` < `c0`, which a directory walk gets wrong). No key is also a
    // "directory" of another (`c` beside `c/d`): file-backed stores (local disk, s3s-fs,
    // MinIO in FS mode) cannot hold both.
    let names = ["g", "a", "B", "c/d", "c.x", "c0", "a-1"];
    for name in names {
        put(storage, &key(&prefix, name), b"x").await;
    }
    let mut expected: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
    expected.sort();

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut options = ListOptions {
        prefix: prefix.clone(),
        page_size: 3,
        continuation: None,
    };
    for _ in 0..10 {
        let page = storage
            .list(options.clone())
            .await
            .unwrap_or_else(|error| panic!("list failed: {error:?}"));
        assert!(
            page.objects.len() <= 3,
            "a page MUST hold at most page_size objects"
        );
        sizes.push(page.objects.len());
        seen.extend(page.objects.iter().map(|meta| meta.key.to_string()));
        match page.next {
            Some(next) => options.continuation = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected, "every object once, in key order");
    assert_eq!(sizes.iter().sum::<usize>(), 7);
    assert!(
        sizes.len() >= 3,
        "7 objects need at least 3 pages of 3: {sizes:?}"
    );
    assert_eq!(sizes[0], 3, "the first page is full");

    let all = storage.list_all(&prefix).await.unwrap();
    let all: Vec<String> = all.iter().map(|meta| meta.key.to_string()).collect();
    assert_eq!(all, expected, "list_all");
    cleanup(storage, &prefix).await;
}

/// A listing returns only keys starting with its prefix, whether the prefix ends at a
/// `/` or in the middle of a name.
pub async fn list_prefixes_isolate(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    for name in ["docs/a", "docs/b", "docs-old/c", "docsx", "other/docs/d"] {
        put(storage, &key(&prefix, name), b"x").await;
    }
    let listed = |p: String| async move {
        storage
            .list_all(&p)
            .await
            .unwrap_or_else(|error| panic!("list {p} failed: {error:?}"))
            .into_iter()
            .map(|meta| meta.key.to_string())
            .collect::<Vec<_>>()
    };
    let full = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{prefix}{n}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed(format!("{prefix}docs/")).await,
        full(&["docs/a", "docs/b"])
    );
    assert_eq!(
        listed(format!("{prefix}docs")).await,
        full(&["docs-old/c", "docs/a", "docs/b", "docsx"])
    );
    assert_eq!(
        listed(format!("{prefix}other/")).await,
        full(&["other/docs/d"])
    );
    assert!(listed(format!("{prefix}nothing/")).await.is_empty());
    assert_eq!(listed(prefix.clone()).await.len(), 5);
    cleanup(storage, &prefix).await;
}

/// A continuation token used with another prefix MUST NOT return keys outside that
/// prefix (it may be refused as [`Error::Invalid`]).
pub async fn continuation_token_stays_within_its_prefix(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    for name in ["a/1", "a/2", "a/3", "b/1", "b/2", "z/1"] {
        put(storage, &key(&prefix, name), b"x").await;
    }
    let first = storage
        .list(ListOptions {
            prefix: format!("{prefix}a/"),
            page_size: 1,
            continuation: None,
        })
        .await
        .unwrap();
    let token = first
        .next
        .expect("three objects in pages of one have a next page");
    let other = format!("{prefix}b/");
    match storage
        .list(ListOptions {
            prefix: other.clone(),
            page_size: 10,
            continuation: Some(token),
        })
        .await
    {
        Err(Error::Invalid(_)) => {}
        Ok(page) => {
            for meta in &page.objects {
                assert!(
                    meta.key.starts_with(&other),
                    "a token from another listing leaked {}",
                    meta.key
                );
            }
        }
        Err(error) => {
            panic!("a token from another prefix: expected Invalid or a page, got {error:?}")
        }
    }
    cleanup(storage, &prefix).await;
}

/// `copy` duplicates content, content type and metadata, overwrites the target, and
/// is [`Error::NotFound`] for a missing source.
pub async fn copies_objects(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let from = key(&prefix, "from.txt");
    let to = key(&prefix, "copies/to.txt");
    let options = PutOptions {
        content_type: Some("text/plain".to_owned()),
        metadata: BTreeMap::from([("origin".to_owned(), "conformance".to_owned())]),
        ..PutOptions::default()
    };
    storage
        .put_bytes(&from, Bytes::from_static(b"copy me"), options)
        .await
        .unwrap();
    put(storage, &to, b"old content").await;
    storage
        .copy(&from, &to)
        .await
        .unwrap_or_else(|error| panic!("copy failed: {error:?}"));
    assert_eq!(
        read(storage, &to).await,
        "copy me",
        "copy MUST overwrite the target"
    );
    assert_eq!(
        read(storage, &from).await,
        "copy me",
        "copy MUST keep the source"
    );
    let meta = storage.head(&to).await.unwrap();
    assert_eq!(meta.key, to);
    assert_eq!(
        meta.content_type.as_deref(),
        Some("text/plain"),
        "copied content type"
    );
    assert_eq!(
        meta.metadata.get("origin").map(String::as_str),
        Some("conformance")
    );
    let missing = key(&prefix, "missing");
    match storage.copy(&missing, &key(&prefix, "never")).await {
        Err(Error::NotFound { key: got }) => assert_eq!(got, missing),
        other => panic!("copy from a missing key MUST be NotFound, got {other:?}"),
    }
    assert!(!storage.exists(&key(&prefix, "never")).await.unwrap());
    cleanup(storage, &prefix).await;
}

/// `delete` removes; deleting again, or a key never written, succeeds.
pub async fn deletes_idempotently(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let doomed = key(&prefix, "doomed");
    put(storage, &doomed, b"x").await;
    assert!(storage.exists(&doomed).await.unwrap());
    storage.delete(&doomed).await.unwrap();
    assert!(
        !storage.exists(&doomed).await.unwrap(),
        "delete MUST remove"
    );
    storage
        .delete(&doomed)
        .await
        .unwrap_or_else(|error| panic!("a second delete MUST succeed, got {error:?}"));
    storage
        .delete(&key(&prefix, "never-written"))
        .await
        .unwrap_or_else(|error| panic!("deleting a missing key MUST succeed, got {error:?}"));
    assert!(storage.list_all(&prefix).await.unwrap().is_empty());
}

/// `get` and `head` of a missing key are [`Error::NotFound`] naming the key.
pub async fn missing_keys_are_not_found(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let missing = key(&prefix, "missing/file.txt");
    match storage.get(&missing, GetOptions::default()).await {
        Err(Error::NotFound { key }) => assert_eq!(key, missing),
        other => panic!("get of a missing key MUST be NotFound, got {other:?}"),
    }
    match storage.head(&missing).await {
        Err(Error::NotFound { key }) => assert_eq!(key, missing),
        other => panic!("head of a missing key MUST be NotFound, got {other:?}"),
    }
    let ranged = GetOptions {
        range: Some(ByteRange::From { start: 0 }),
    };
    match storage.get(&missing, ranged).await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("a ranged get of a missing key MUST be NotFound, got {other:?}"),
    }
    assert!(!storage.exists(&missing).await.unwrap());
}

/// [`PutMode::Create`] writes a new key and refuses an existing one without changing it.
pub async fn create_mode_refuses_existing_objects(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let once = key(&prefix, "once");
    let create = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    storage
        .put_bytes(&once, Bytes::from_static(b"first"), create())
        .await
        .unwrap_or_else(|error| panic!("Create of a new key failed: {error:?}"));
    match storage
        .put_bytes(&once, Bytes::from_static(b"second"), create())
        .await
    {
        Err(Error::AlreadyExists { key }) => assert_eq!(key, once),
        other => panic!("Create of an existing key MUST be AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        read(storage, &once).await,
        "first",
        "a refused Create MUST NOT write"
    );
    put(storage, &once, b"third").await;
    assert_eq!(read(storage, &once).await, "third", "Overwrite replaces");
    cleanup(storage, &prefix).await;
}

/// Concurrent [`PutMode::Create`] puts of one key: exactly one succeeds, the others
/// are [`Error::AlreadyExists`], and the object holds the winner's body.
pub async fn concurrent_creates_have_one_winner(storage: &dyn ObjectStorage) {
    const WRITERS: usize = 6;
    let prefix = unique_prefix();
    let contested = key(&prefix, "contested");
    let attempts = (0..WRITERS).map(|writer| {
        let contested = contested.clone();
        async move {
            // Two chunks, so the writers interleave while their bodies are read.
            let body: ByteStream = stream::iter([
                Ok(Bytes::from(format!("writer {writer} "))),
                Ok(Bytes::from_static(b"was here")),
            ])
            .boxed();
            let options = PutOptions {
                mode: PutMode::Create,
                ..PutOptions::default()
            };
            (writer, storage.put(&contested, body, options).await)
        }
    });
    let results = futures::future::join_all(attempts).await;
    let mut winners = Vec::new();
    for (writer, result) in results {
        match result {
            Ok(_) => winners.push(writer),
            Err(Error::AlreadyExists { .. }) => {}
            Err(other) => panic!("a losing Create MUST be AlreadyExists, got {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one Create MUST win: {winners:?}");
    let expected = format!("writer {} was here", winners[0]);
    assert_eq!(
        read(storage, &contested).await,
        expected,
        "the winner's body"
    );
    cleanup(storage, &prefix).await;
}

/// A body that fails midway fails the put and leaves the previous object (or nothing).
pub async fn failed_body_leaves_the_previous_object(storage: &dyn ObjectStorage) {
    let prefix = unique_prefix();
    let kept = key(&prefix, "kept");
    put(storage, &kept, b"original").await;
    let failing = || -> ByteStream {
        stream::iter([
            Ok(Bytes::from_static(b"partial ")),
            Err(Error::transient("the client went away")),
        ])
        .boxed()
    };
    assert!(
        storage
            .put(&kept, failing(), PutOptions::default())
            .await
            .is_err(),
        "a failing body MUST fail the put"
    );
    assert_eq!(
        read(storage, &kept).await,
        "original",
        "a failed put MUST NOT change the object"
    );
    let fresh = key(&prefix, "fresh");
    assert!(
        storage
            .put(&fresh, failing(), PutOptions::default())
            .await
            .is_err()
    );
    assert!(
        !storage.exists(&fresh).await.unwrap(),
        "a failed put MUST NOT create the object"
    );
    cleanup(storage, &prefix).await;
}

/// Every key in [`BAD_KEYS`] is refused at parse time, and `list` refuses bad
/// prefixes with [`Error::InvalidKey`].
pub async fn refuses_bad_keys_and_prefixes(storage: &dyn ObjectStorage) {
    for bad in BAD_KEYS {
        match ObjectKey::parse(bad) {
            Err(Error::InvalidKey { .. }) => {}
            other => panic!("{bad:?} MUST be InvalidKey, got {other:?}"),
        }
    }
    let mut bad_prefixes: Vec<&str> = BAD_KEYS
        .iter()
        .copied()
        .filter(|p| validate_prefix(p).is_err())
        .collect();
    bad_prefixes.extend(["/", "../", "a//", "%2e%2e/", "tenants/../", "a\\"]);
    assert!(bad_prefixes.len() > 20, "the bad-prefix list shrank");
    for bad in bad_prefixes {
        match storage.list(ListOptions::prefix(bad)).await {
            Err(Error::InvalidKey { .. }) => {}
            other => panic!("list with prefix {bad:?} MUST be InvalidKey, got {other:?}"),
        }
    }
}

/// Signed URLs: refused where unsupported; otherwise bounded in lifetime and, with a
/// client, usable for exactly their method.
pub async fn signed_urls(storage: &dyn ObjectStorage, caps: &Capabilities) {
    let prefix = unique_prefix();
    let target = key(&prefix, "signed.txt");
    let hour = Duration::from_secs(3600);
    if !caps.signed_urls {
        match storage.signed_url(SignedMethod::Get, &target, hour).await {
            Err(Error::NotSupported { .. }) => {}
            other => panic!("signed_url without support MUST be NotSupported, got {other:?}"),
        }
        return;
    }
    for bad in [
        Duration::ZERO,
        crate::MAX_SIGNED_URL_EXPIRY + Duration::from_secs(1),
    ] {
        match storage.signed_url(SignedMethod::Get, &target, bad).await {
            Err(Error::Invalid(_)) => {}
            other => panic!("a lifetime of {bad:?} MUST be Invalid, got {other:?}"),
        }
    }
    let before = Utc::now();
    let get = storage
        .signed_url(SignedMethod::Get, &target, hour)
        .await
        .unwrap_or_else(|error| panic!("signed GET URL failed: {error:?}"));
    assert_eq!(get.method, SignedMethod::Get);
    assert!(
        get.url.starts_with("http://") || get.url.starts_with("https://"),
        "{get:?}"
    );
    let slack = chrono::Duration::minutes(5);
    assert!(
        get.expires_at > before
            && get.expires_at <= Utc::now() + chrono::Duration::hours(1) + slack,
        "expires_at MUST be about now + expires_in: {get:?}"
    );
    let Some(client) = &caps.signed_url_client else {
        return;
    };
    let put_url = storage
        .signed_url(SignedMethod::Put, &target, hour)
        .await
        .unwrap_or_else(|error| panic!("signed PUT URL failed: {error:?}"));
    assert_eq!(put_url.method, SignedMethod::Put);
    let status = client
        .put(
            &put_url.url,
            Bytes::from_static(b"uploaded by URL"),
            Some("text/plain"),
        )
        .await
        .unwrap_or_else(|error| panic!("PUT to the signed URL failed: {error}"));
    assert!(
        (200..300).contains(&status),
        "PUT to a signed URL answered {status}"
    );
    assert_eq!(read(storage, &target).await, "uploaded by URL");
    let (status, bytes) = client
        .get(&get.url)
        .await
        .unwrap_or_else(|error| panic!("GET of the signed URL failed: {error}"));
    assert_eq!(status, 200, "GET of a signed URL");
    assert_eq!(bytes, "uploaded by URL");
    let (status, _) = client
        .get(&put_url.url)
        .await
        .unwrap_or_else(|error| panic!("GET of the signed PUT URL failed: {error}"));
    assert!(
        status >= 400,
        "a URL signed for PUT MUST NOT allow GET (got {status})"
    );
    cleanup(storage, &prefix).await;
}
