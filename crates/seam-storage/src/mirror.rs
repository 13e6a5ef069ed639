//! Mirroring: a decorator that keeps a second store in step with the first, reads from
//! the second when the first is down, and checks that the two agree.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use seam_core::Classify;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ObjectStorage;
use crate::body::ByteStream;
use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::types::{
    GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult,
    SignedMethod, SignedUrl,
};

/// A change to carry over to the secondary store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum MirrorOp {
    /// Make the secondary's object at `key` match the primary's (copy it, or delete it
    /// when the primary has none by the time the op is applied).
    Copy {
        /// The key that changed.
        key: ObjectKey,
    },
    /// Remove the object at `key` from the secondary.
    Delete {
        /// The key that was deleted.
        key: ObjectKey,
    },
}

impl MirrorOp {
    /// The key the op is about.
    pub fn key(&self) -> &ObjectKey {
        match self {
            Self::Copy { key } | Self::Delete { key } => key,
        }
    }
}

/// Where deferred mirroring ops go (a durable queue, drained by a worker that calls
/// [`apply`]).
#[async_trait]
pub trait MirrorQueue: Debug + Send + Sync + 'static {
    /// Queues `op`.
    ///
    /// # Errors
    ///
    /// MUST fail when the op was not stored durably; the write that caused it then fails.
    async fn enqueue(&self, op: MirrorOp) -> Result<()>;
}

/// A [`MirrorQueue`] in memory, drained by calling [`drain`](Self::drain): for tests
/// and single-process setups that accept losing pending ops on restart (run [`verify`]
/// and re-apply after a crash).
#[derive(Debug, Default)]
pub struct InMemoryMirrorQueue {
    ops: Mutex<VecDeque<MirrorOp>>,
}

impl InMemoryMirrorQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    fn ops(&self) -> MutexGuard<'_, VecDeque<MirrorOp>> {
        // Every update is a single push or pop, so a poisoned lock holds a whole queue.
        self.ops.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ops waiting, oldest first.
    pub fn pending(&self) -> Vec<MirrorOp> {
        self.ops().iter().cloned().collect()
    }

    /// Applies the waiting ops in order, at most `max` of them; returns how many were
    /// applied. The first op that fails stays at the front of the queue.
    ///
    /// # Errors
    ///
    /// The error of the op that failed ([`apply`]).
    pub async fn drain(
        &self,
        primary: &dyn ObjectStorage,
        secondary: &dyn ObjectStorage,
        max: usize,
    ) -> Result<usize> {
        let mut applied = 0;
        while applied < max {
            let Some(op) = self.ops().front().cloned() else {
                break;
            };
            apply(primary, secondary, &op).await?;
            // Pop only what was applied: a concurrent drain may have taken it already.
            let mut ops = self.ops();
            if ops.front() == Some(&op) {
                ops.pop_front();
            }
            applied += 1;
        }
        Ok(applied)
    }
}

#[async_trait]
impl MirrorQueue for InMemoryMirrorQueue {
    async fn enqueue(&self, op: MirrorOp) -> Result<()> {
        self.ops().push_back(op);
        Ok(())
    }
}

/// When the secondary is written.
#[derive(Debug, Clone)]
pub enum MirrorMode {
    /// During the call: a write succeeds only when both stores took it.
    Sync,
    /// Later: the write succeeds when the primary took it and the op was queued.
    Deferred(Arc<dyn MirrorQueue>),
}

/// Applies `op`: copies the primary's object (content, content type, metadata,
/// `public`) to the secondary by streaming, or deletes it from the secondary.
///
/// Idempotent: applying an op twice, or an old op, leaves the secondary matching the
/// primary's current state (a `Copy` whose object is gone from the primary deletes it).
///
/// # Errors
///
/// The primary's or the secondary's error.
pub async fn apply(
    primary: &dyn ObjectStorage,
    secondary: &dyn ObjectStorage,
    op: &MirrorOp,
) -> Result<()> {
    match op {
        MirrorOp::Copy { key } => match primary.get(key, GetOptions::default()).await {
            Ok(source) => {
                let options = PutOptions {
                    content_type: source.meta.content_type,
                    metadata: source.meta.metadata,
                    mode: PutMode::Overwrite,
                    public: source.meta.public,
                };
                secondary.put(key, source.body, options).await.map(|_| ())
            }
            Err(Error::NotFound { .. }) => secondary.delete(key).await,
            Err(error) => Err(error),
        },
        MirrorOp::Delete { key } => secondary.delete(key).await,
    }
}

/// A primary store mirrored to a secondary one.
///
/// - Writes (`put`, `copy`, `delete`) go to the primary, then to the secondary
///   according to the [`MirrorMode`]. In [`MirrorMode::Sync`] the secondary is written
///   by streaming the object back from the primary (so bodies of any size work), and a
///   secondary failure fails the call even though the primary was written: the caller
///   learns the mirror is behind, and retrying an `Overwrite` put is safe. A retried
///   [`PutMode::Create`] put then answers [`Error::AlreadyExists`].
/// - `get` and `head` fall back to the secondary when the primary fails with a
///   retryable kind (transient, rate limited, unavailable, timeout), never on
///   `NotFound` or a caller's mistake.
/// - `list` and `signed_url` use the primary only: tokens and URLs belong to one store.
#[derive(Debug, Clone)]
pub struct MirroredStorage {
    primary: Arc<dyn ObjectStorage>,
    secondary: Arc<dyn ObjectStorage>,
    mode: MirrorMode,
}

impl MirroredStorage {
    /// `primary` mirrored to `secondary`.
    pub fn new(
        primary: Arc<dyn ObjectStorage>,
        secondary: Arc<dyn ObjectStorage>,
        mode: MirrorMode,
    ) -> Self {
        Self {
            primary,
            secondary,
            mode,
        }
    }

    /// The primary store.
    pub fn primary(&self) -> &Arc<dyn ObjectStorage> {
        &self.primary
    }

    /// The secondary store.
    pub fn secondary(&self) -> &Arc<dyn ObjectStorage> {
        &self.secondary
    }

    async fn mirror(&self, op: MirrorOp) -> Result<()> {
        match &self.mode {
            MirrorMode::Sync => {
                let result = apply(self.primary.as_ref(), self.secondary.as_ref(), &op).await;
                if let Err(error) = &result {
                    tracing::warn!(
                        key = %op.key(),
                        error.message = %error,
                        error.kind = %error.kind(),
                        "writing the storage mirror failed"
                    );
                }
                result
            }
            MirrorMode::Deferred(queue) => queue.enqueue(op).await,
        }
    }

    fn falls_back(error: &Error) -> bool {
        error.kind().is_retryable()
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStorage for MirroredStorage {
    fn adapter(&self) -> &'static str {
        self.primary.adapter()
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        let result = self.primary.put(key, body, options).await?;
        self.mirror(MirrorOp::Copy { key: key.clone() }).await?;
        Ok(result)
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        match self.primary.get(key, options.clone()).await {
            Err(error) if Self::falls_back(&error) => {
                tracing::warn!(%key, error.message = %error, "primary storage failed; reading the mirror");
                self.secondary.get(key, options).await
            }
            other => other,
        }
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        match self.primary.head(key).await {
            Err(error) if Self::falls_back(&error) => {
                tracing::warn!(%key, error.message = %error, "primary storage failed; reading the mirror");
                self.secondary.head(key).await
            }
            other => other,
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.primary.delete(key).await?;
        self.mirror(MirrorOp::Delete { key: key.clone() }).await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.primary.list(options).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        self.primary.copy(from, to).await?;
        self.mirror(MirrorOp::Copy { key: to.clone() }).await
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        self.primary.signed_url(method, key, expires_in).await
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Keys the primary has and the secondary lacks.
    pub missing: Vec<ObjectKey>,
    /// Keys whose size or content differ.
    pub different: Vec<ObjectKey>,
    /// How many primary objects were checked.
    pub checked: u64,
}

impl VerifyReport {
    /// Whether the secondary holds everything the primary does, unchanged.
    pub fn is_consistent(&self) -> bool {
        self.missing.is_empty() && self.different.is_empty()
    }
}

/// Checks that every object under `prefix` in `primary` is in `secondary` with the same
/// content: same size, then the same etag when both stores are the same kind of adapter
/// and the etags match, else the same SHA-256 of the streamed content.
///
/// # Errors
///
/// A listing or reading error of either store (other than the secondary's `NotFound`).
pub async fn verify(
    primary: &dyn ObjectStorage,
    secondary: &dyn ObjectStorage,
    prefix: &str,
) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut options = ListOptions::prefix(prefix);
    loop {
        let page = primary.list(options.clone()).await?;
        for meta in page.objects {
            report.checked += 1;
            let theirs = match secondary.head(&meta.key).await {
                Ok(theirs) => theirs,
                Err(Error::NotFound { .. }) => {
                    report.missing.push(meta.key);
                    continue;
                }
                Err(error) => return Err(error),
            };
            if !same_object(primary, secondary, &meta, &theirs).await? {
                report.different.push(meta.key);
            }
        }
        match page.next {
            Some(next) if options.continuation.as_ref() == Some(&next) => {
                return Err(Error::backend(
                    primary.adapter(),
                    "list returned the same continuation token twice",
                ));
            }
            Some(next) => options.continuation = Some(next),
            None => return Ok(report),
        }
    }
}

async fn same_object(
    primary: &dyn ObjectStorage,
    secondary: &dyn ObjectStorage,
    ours: &ObjectMeta,
    theirs: &ObjectMeta,
) -> Result<bool> {
    if ours.size != theirs.size {
        return Ok(false);
    }
    let comparable_etags = primary.adapter() == secondary.adapter();
    if comparable_etags && ours.etag.is_some() && ours.etag == theirs.etag {
        return Ok(true);
    }
    // Etags differ across adapters and even within one (S3 multipart uploads), so the
    // content decides.
    let (Some(ours), Some(theirs)) = (
        content_digest(primary, &ours.key).await?,
        content_digest(secondary, &theirs.key).await?,
    ) else {
        return Ok(false);
    };
    Ok(ours == theirs)
}

/// The SHA-256 of the object's content, streamed; `None` when it vanished meanwhile.
async fn content_digest(storage: &dyn ObjectStorage, key: &ObjectKey) -> Result<Option<Vec<u8>>> {
    let mut body = match storage.get(key, GetOptions::default()).await {
        Ok(result) => result.body,
        Err(Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.next().await {
        hasher.update(&chunk?);
    }
    Ok(Some(hasher.finalize().to_vec()))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::ObjectStorageExt;
    use crate::memory::InMemoryStorage;

    #[tokio::test]
    async fn in_memory_queue_drains_in_order_and_keeps_a_failed_op() {
        let primary = Arc::new(InMemoryStorage::new());
        let secondary = Arc::new(InMemoryStorage::new());
        let queue = Arc::new(InMemoryMirrorQueue::new());
        let mirrored = MirroredStorage::new(
            primary.clone(),
            secondary.clone(),
            MirrorMode::Deferred(queue.clone()),
        );
        let key = |k: &str| ObjectKey::parse(k).unwrap();
        for name in ["a", "b", "c"] {
            mirrored
                .put_bytes(
                    &key(name),
                    Bytes::from(name.to_owned()),
                    PutOptions::default(),
                )
                .await
                .unwrap();
        }
        assert_eq!(queue.pending().len(), 3);
        assert_eq!(
            queue
                .drain(primary.as_ref(), secondary.as_ref(), 1)
                .await
                .unwrap(),
            1
        );
        assert_eq!(secondary.keys(), [key("a")]);
        secondary.fail_next(Error::unavailable("mirror down"));
        assert!(
            queue
                .drain(primary.as_ref(), secondary.as_ref(), 10)
                .await
                .is_err()
        );
        assert_eq!(
            queue.pending(),
            [
                MirrorOp::Copy { key: key("b") },
                MirrorOp::Copy { key: key("c") }
            ]
        );
        assert_eq!(
            queue
                .drain(primary.as_ref(), secondary.as_ref(), 10)
                .await
                .unwrap(),
            2
        );
        assert!(queue.pending().is_empty());
        assert_eq!(secondary.get_bytes(&key("c")).await.unwrap(), "c");
    }

    #[test]
    fn ops_serialize_with_a_tag() {
        let op = MirrorOp::Copy {
            key: ObjectKey::parse("a/b").unwrap(),
        };
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(json, r#"{"op":"copy","key":"a/b"}"#);
        assert_eq!(serde_json::from_str::<MirrorOp>(&json).unwrap(), op);
        assert!(serde_json::from_str::<MirrorOp>(r#"{"op":"delete","key":"../x"}"#).is_err());
    }
}
