//! Conveniences over [`ObjectStorage`], for every adapter alike.

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::AsyncRead;

use crate::ObjectStorage;
use crate::body::{self, ByteStream};
use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::types::{GetOptions, ListOptions, ObjectMeta, PutOptions, PutResult};

/// The most objects [`ObjectStorageExt::list_all`] collects before giving up.
pub const LIST_ALL_LIMIT: usize = 100_000;

/// Conveniences over [`ObjectStorage`]; implemented for every storage, not overridable.
#[async_trait]
pub trait ObjectStorageExt: ObjectStorage {
    /// Writes `bytes` at `key`.
    async fn put_bytes(
        &self,
        key: &ObjectKey,
        bytes: Bytes,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.put(key, body::from_bytes(bytes), options).await
    }

    /// Reads the whole object at `key` into memory.
    ///
    /// # Errors
    ///
    /// Those of `get`, and [`Error::Backend`] when the backend sends more bytes than
    /// the size it announced, or fewer.
    async fn get_bytes(&self, key: &ObjectKey) -> Result<Bytes> {
        let mut result = self.get(key, GetOptions::default()).await?;
        let announced = result.range.end - result.range.start;
        let mismatch = |got: u64| {
            Error::backend(
                self.adapter(),
                format!("announced {announced} bytes but sent {got}"),
            )
        };
        // Capped, so a lying size cannot make us reserve a huge buffer up front.
        let mut buffer =
            BytesMut::with_capacity(usize::try_from(announced.min(1 << 24)).unwrap_or(0));
        while let Some(chunk) = result.body.next().await {
            let chunk = chunk?;
            let got = buffer.len() as u64 + chunk.len() as u64;
            if got > announced {
                return Err(mismatch(got));
            }
            buffer.extend_from_slice(&chunk);
        }
        if buffer.len() as u64 != announced {
            return Err(mismatch(buffer.len() as u64));
        }
        Ok(buffer.freeze())
    }

    /// Writes what `reader` yields at `key`, streaming.
    async fn put_reader<R>(
        &self,
        key: &ObjectKey,
        reader: R,
        options: PutOptions,
    ) -> Result<PutResult>
    where
        R: AsyncRead + Send + 'static,
    {
        self.put(key, body::from_reader(reader), options).await
    }

    /// Writes a stream at `key` with default options.
    async fn put_stream(&self, key: &ObjectKey, body: ByteStream) -> Result<PutResult> {
        self.put(key, body, PutOptions::default()).await
    }

    /// Whether an object exists at `key`.
    async fn exists(&self, key: &ObjectKey) -> Result<bool> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Every object under `prefix`, following continuation tokens.
    ///
    /// # Errors
    ///
    /// Those of `list`; [`Error::Invalid`] when there are more than [`LIST_ALL_LIMIT`]
    /// objects (page through them with `list` instead); [`Error::Backend`] when the
    /// backend repeats a continuation token.
    async fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let mut objects = Vec::new();
        let mut options = ListOptions::prefix(prefix);
        // Each page holds at least one object unless it is the last, so this bounds the loop.
        for _ in 0..=LIST_ALL_LIMIT {
            let page = self.list(options.clone()).await?;
            objects.extend(page.objects);
            if objects.len() > LIST_ALL_LIMIT {
                return Err(Error::invalid(format!(
                    "more than {LIST_ALL_LIMIT} objects under {prefix:?}; page through them with list"
                )));
            }
            match page.next {
                None => return Ok(objects),
                Some(next) if options.continuation.as_ref() == Some(&next) => {
                    return Err(Error::backend(
                        self.adapter(),
                        "list returned the same continuation token twice",
                    ));
                }
                Some(next) => options.continuation = Some(next),
            }
        }
        Err(Error::backend(
            self.adapter(),
            "list kept returning continuation tokens",
        ))
    }
}

impl<T: ObjectStorage + ?Sized> ObjectStorageExt for T {}
