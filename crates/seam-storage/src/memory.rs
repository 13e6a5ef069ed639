//! An in-memory adapter that honours the whole contract: the fake for tests and the
//! embedded default when no object store is configured.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use seam_core::{SharedClock, SystemClock};
use sha2::{Digest, Sha256};

use crate::ObjectStorage;
use crate::body::{self, ByteStream};
use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::types::{
    GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult,
    SignedMethod, SignedUrl,
};

/// The adapter's name.
pub const ADAPTER: &str = "memory";
/// The largest object [`InMemoryStorage`] accepts unless told otherwise (1 GiB).
pub const DEFAULT_MAX_OBJECT_BYTES: u64 = 1 << 30;
/// The size of the chunks `get` streams, like a network read would.
const CHUNK_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
struct Stored {
    bytes: Bytes,
    meta: ObjectMeta,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<ObjectKey, Stored>,
    failures: VecDeque<Error>,
}

/// An [`ObjectStorage`] that keeps objects in memory.
///
/// It behaves like the real adapters: the same key rules, metadata limits, `Create`
/// semantics, ranges, ordering and pagination (opaque continuation tokens, at most
/// `page_size` per page), `NotFound` for missing keys, idempotent deletes. Entity tags
/// are the hex SHA-256 of the content; `last_modified` comes from the [`seam_core::Clock`]
/// it was given, so tests can control it.
///
/// It has no HTTP endpoint, so [`signed_url`](ObjectStorage::signed_url) is
/// [`Error::NotSupported`]. Tests script failures with [`fail_next`](Self::fail_next).
///
/// ```
/// # tokio_test_block_on(async {
/// use bytes::Bytes;
/// use seam_storage::memory::InMemoryStorage;
/// use seam_storage::{ObjectKey, ObjectStorageExt, PutOptions};
///
/// let storage = InMemoryStorage::new();
/// let key = ObjectKey::parse("invoices/inv-1.txt").unwrap();
/// storage.put_bytes(&key, Bytes::from("total: 12.00"), PutOptions::default()).await.unwrap();
/// assert_eq!(storage.get_bytes(&key).await.unwrap(), "total: 12.00");
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct InMemoryStorage {
    state: Mutex<State>,
    clock: SharedClock,
    max_object_bytes: u64,
}

impl Default for InMemoryStorage {
    fn default() -> Self {
        Self::new()
    }
}

impl InMemoryStorage {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(SystemClock::shared())
    }

    /// An empty store whose `last_modified` times come from `clock`.
    pub fn with_clock(clock: SharedClock) -> Self {
        Self {
            state: Mutex::new(State::default()),
            clock,
            max_object_bytes: DEFAULT_MAX_OBJECT_BYTES,
        }
    }

    /// Refuses objects larger than `bytes` with [`Error::Invalid`].
    #[must_use]
    pub fn with_max_object_bytes(mut self, bytes: u64) -> Self {
        self.max_object_bytes = bytes;
        self
    }

    /// Makes the next call (of any operation) fail with `error`; calls queue up.
    pub fn fail_next(&self, error: Error) {
        self.state().failures.push_back(error);
    }

    /// How many objects are stored.
    pub fn len(&self) -> usize {
        self.state().objects.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.state().objects.is_empty()
    }

    /// Every stored key, in order.
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.state().objects.keys().cloned().collect()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update is a single insert or remove, so a panic while holding the lock
        // cannot leave the map half-updated.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn scripted_failure(&self) -> Result<()> {
        match self.state().failures.pop_front() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    fn lookup(&self, key: &ObjectKey) -> Result<Stored> {
        self.state()
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found(key))
    }
}

/// The entity tag the memory adapter gives `bytes`: their hex SHA-256.
pub fn content_etag(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn chunked(bytes: Bytes) -> ByteStream {
    let chunks: Vec<Result<Bytes>> = (0..bytes.len())
        .step_by(CHUNK_BYTES)
        .map(|start| Ok(bytes.slice(start..(start + CHUNK_BYTES).min(bytes.len()))))
        .collect();
    stream::iter(chunks).boxed()
}

fn encode_token(last: &ObjectKey) -> String {
    hex::encode(last.as_str())
}

fn decode_token(token: &str) -> Result<String> {
    let invalid = || Error::invalid("continuation token was not issued by the memory adapter");
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

#[async_trait]
impl ObjectStorage for InMemoryStorage {
    fn adapter(&self) -> &'static str {
        ADAPTER
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.scripted_failure()?;
        options.validate()?;
        if options.mode == PutMode::Create && self.state().objects.contains_key(key) {
            // Checked again below; failing early spares reading the body.
            return Err(Error::already_exists(key));
        }
        let bytes = body::collect(body, self.max_object_bytes).await?;
        let size = bytes.len() as u64;
        let etag = content_etag(&bytes);
        let meta = ObjectMeta {
            key: key.clone(),
            size,
            content_type: options.content_type,
            etag: Some(etag.clone()),
            last_modified: self.now(),
            metadata: options.metadata,
            public: options.public,
        };
        let mut state = self.state();
        if options.mode == PutMode::Create && state.objects.contains_key(key) {
            return Err(Error::already_exists(key));
        }
        state.objects.insert(key.clone(), Stored { bytes, meta });
        Ok(PutResult {
            etag: Some(etag),
            size,
        })
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        self.scripted_failure()?;
        let stored = self.lookup(key)?;
        let range = match options.range {
            Some(range) => range.resolve(stored.meta.size)?,
            None => 0..stored.meta.size,
        };
        // The range lies within the object, whose size came from a `usize` length.
        let to_index = |at: u64| usize::try_from(at).unwrap_or(usize::MAX);
        let slice = stored
            .bytes
            .slice(to_index(range.start)..to_index(range.end));
        Ok(GetResult {
            meta: stored.meta,
            range,
            body: chunked(slice),
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.scripted_failure()?;
        Ok(self.lookup(key)?.meta)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.scripted_failure()?;
        self.state().objects.remove(key);
        Ok(())
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.scripted_failure()?;
        options.validate()?;
        let after = options
            .continuation
            .as_deref()
            .map(decode_token)
            .transpose()?;
        let state = self.state();
        let prefix = options.prefix.as_str();
        // Keys sort as strings: start at the later of the prefix and the token, and stop
        // at the first key past the prefix. A token from elsewhere cannot leave the prefix.
        let start = match after.as_deref() {
            Some(after) if after >= prefix => Bound::Excluded(after),
            _ => Bound::Included(prefix),
        };
        let mut objects = Vec::with_capacity(options.page_size.min(state.objects.len()));
        let mut more = false;
        let candidates = state
            .objects
            .range::<str, _>((start, Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix));
        for (_, stored) in candidates {
            if objects.len() == options.page_size {
                more = true;
                break;
            }
            objects.push(stored.meta.clone());
        }
        let next = if more {
            objects.last().map(|meta| encode_token(&meta.key))
        } else {
            None
        };
        Ok(ListPage { objects, next })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        self.scripted_failure()?;
        let now = self.now();
        let mut state = self.state();
        let mut copied = state
            .objects
            .get(from)
            .cloned()
            .ok_or_else(|| Error::not_found(from))?;
        copied.meta.key = to.clone();
        copied.meta.last_modified = now;
        state.objects.insert(to.clone(), copied);
        Ok(())
    }

    async fn signed_url(
        &self,
        _method: SignedMethod,
        _key: &ObjectKey,
        _expires_in: Duration,
    ) -> Result<SignedUrl> {
        self.scripted_failure()?;
        Err(Error::not_supported("signed_url", ADAPTER))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use seam_core::ManualClock;

    use super::*;
    use crate::ObjectStorageExt;

    fn key(text: &str) -> ObjectKey {
        ObjectKey::parse(text).unwrap()
    }

    #[tokio::test]
    async fn last_modified_and_etag() {
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000));
        let storage = InMemoryStorage::with_clock(clock.shared());
        let a = key("a");
        let put = storage
            .put_bytes(&a, Bytes::from_static(b"abc"), PutOptions::default())
            .await
            .unwrap();
        assert_eq!(
            put.etag.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            storage.head(&a).await.unwrap().last_modified.timestamp(),
            1_000
        );
        clock.advance(Duration::from_secs(5));
        storage.copy(&a, &key("b")).await.unwrap();
        assert_eq!(
            storage
                .head(&key("b"))
                .await
                .unwrap()
                .last_modified
                .timestamp(),
            1_005
        );
    }

    #[tokio::test]
    async fn scripted_failures_and_size_limit() {
        let storage = InMemoryStorage::new().with_max_object_bytes(4);
        storage.fail_next(Error::unavailable("down"));
        assert!(matches!(
            storage.head(&key("a")).await,
            Err(Error::Unavailable(_))
        ));
        assert!(matches!(
            storage.head(&key("a")).await,
            Err(Error::NotFound { .. })
        ));
        let too_big = storage
            .put_bytes(
                &key("a"),
                Bytes::from_static(b"12345"),
                PutOptions::default(),
            )
            .await;
        assert!(matches!(too_big, Err(Error::Invalid(_))), "{too_big:?}");
        assert!(storage.is_empty());
    }

    #[tokio::test]
    async fn large_bodies_stream_in_chunks() {
        let storage = InMemoryStorage::new();
        let a = key("big");
        let data = Bytes::from(vec![7u8; CHUNK_BYTES * 2 + 1]);
        storage
            .put_bytes(&a, data.clone(), PutOptions::default())
            .await
            .unwrap();
        let got = storage.get(&a, GetOptions::default()).await.unwrap();
        let chunks: Vec<Bytes> = got.body.map(|chunk| chunk.unwrap()).collect().await;
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks.concat(), data);
    }

    #[tokio::test]
    async fn bad_tokens_are_invalid() {
        let storage = InMemoryStorage::new();
        for token in ["zz", "ff"] {
            let options = ListOptions {
                continuation: Some(token.to_owned()),
                ..ListOptions::default()
            };
            assert!(
                matches!(storage.list(options).await, Err(Error::Invalid(_))),
                "{token}"
            );
        }
    }
}
