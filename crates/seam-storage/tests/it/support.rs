//! Test doubles: a store that can be switched off, a queue that records.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use seam_storage::mirror::{MirrorOp, MirrorQueue};
use seam_storage::{
    ByteStream, Error, GetOptions, GetResult, InMemoryStorage, ListOptions, ListPage, ObjectKey,
    ObjectMeta, ObjectStorage, PutOptions, PutResult, Result, SignedMethod, SignedUrl,
};

/// An in-memory store that answers `Unavailable` to everything while it is down.
#[derive(Debug, Default)]
pub(crate) struct Switchable {
    pub(crate) inner: InMemoryStorage,
    down: AtomicBool,
}

impl Switchable {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::unavailable("switched off by the test"));
        }
        Ok(())
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStorage for Switchable {
    fn adapter(&self) -> &'static str {
        "switchable"
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.check()?;
        self.inner.put(key, body, options).await
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        self.check()?;
        self.inner.get(key, options).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.check()?;
        self.inner.head(key).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.check()?;
        self.inner.delete(key).await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.check()?;
        self.inner.list(options).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        self.check()?;
        self.inner.copy(from, to).await
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        self.check()?;
        self.inner.signed_url(method, key, expires_in).await
    }
}

/// A mirror queue that keeps what it was given (or refuses, when told to).
#[derive(Debug, Default)]
pub(crate) struct RecordingQueue {
    pub(crate) ops: Mutex<Vec<MirrorOp>>,
    pub(crate) refuse: AtomicBool,
}

impl RecordingQueue {
    pub(crate) fn take(&self) -> Vec<MirrorOp> {
        std::mem::take(&mut *self.ops.lock().unwrap())
    }
}

#[async_trait]
impl MirrorQueue for RecordingQueue {
    async fn enqueue(&self, op: MirrorOp) -> Result<()> {
        if self.refuse.load(Ordering::SeqCst) {
            return Err(Error::unavailable("queue refused"));
        }
        self.ops.lock().unwrap().push(op);
        Ok(())
    }
}

pub(crate) fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}
