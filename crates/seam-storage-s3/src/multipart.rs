//! Multipart uploads: streamed by `put` for long bodies, and resumable by hand
//! ([`ResumableUpload`]) for uploads that must survive a crash.

use std::collections::{BTreeMap, VecDeque};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use seam_storage::{ByteStream, Error, ObjectKey, PutMode, PutResult, Result};
use serde::{Deserialize, Serialize};

use crate::config::{MAX_PART_SIZE, MAX_PARTS};
use crate::storage::S3Storage;
use crate::{ADAPTER, METRICS};

/// A part S3 holds for an upload: what [`ResumableUpload::complete`] sends back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPart {
    /// The part number, `1..=10000`; parts are assembled in this order.
    pub number: u16,
    /// The ETag S3 answered for the part.
    pub etag: String,
    /// The part's size in bytes.
    pub size: u64,
}

/// What to persist about a [`ResumableUpload`] to resume it after a crash with
/// [`S3Storage::resume_from`]: the key, S3's upload id, the write mode and the parts
/// sent so far with their ETags. Serializable (JSON, a database row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadState {
    /// The key the object will have.
    pub key: ObjectKey,
    /// S3's id of the upload.
    pub upload_id: String,
    /// Overwrite, or create only.
    #[serde(default)]
    pub mode: PutMode,
    /// The parts sent so far, with the ETags S3 answered.
    #[serde(default)]
    pub parts: Vec<UploadedPart>,
}

/// A multipart upload in progress, whose state can be persisted and resumed.
///
/// Persist [`state`](Self::state) after each part (or at least the key and the
/// [`upload_id`](Self::upload_id)); after a crash, [`S3Storage::resume_from`] (or
/// [`S3Storage::resume`] with just the id) asks S3 which parts it holds, so only the
/// missing ones are sent again. Every part but the last must be at least 5 MiB; some
/// S3-compatible servers also want the part numbers without gaps.
///
/// An upload that is neither completed nor aborted keeps its parts (and S3 bills
/// them): [`abort`](Self::abort) uploads you give up on, and keep an
/// `AbortIncompleteMultipartUpload` lifecycle rule on the bucket for crashes.
#[derive(Debug)]
pub struct ResumableUpload {
    storage: S3Storage,
    key: ObjectKey,
    upload_id: String,
    mode: PutMode,
    parts: BTreeMap<u16, UploadedPart>,
}

impl ResumableUpload {
    pub(crate) fn new(
        storage: S3Storage,
        key: ObjectKey,
        upload_id: String,
        mode: PutMode,
        parts: BTreeMap<u16, UploadedPart>,
    ) -> Self {
        Self {
            storage,
            key,
            upload_id,
            mode,
            parts,
        }
    }

    /// The key the object will have.
    pub fn key(&self) -> &ObjectKey {
        &self.key
    }

    /// S3's id of this upload: persist it to [`resume`](S3Storage::resume) later.
    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }

    /// Whether [`complete`](Self::complete) replaces an existing object or fails with
    /// [`Error::AlreadyExists`].
    pub fn mode(&self) -> PutMode {
        self.mode
    }

    /// Sets the write mode [`complete`](Self::complete) uses (a resumed upload starts
    /// with [`PutMode::Overwrite`]).
    pub fn set_mode(&mut self, mode: PutMode) {
        self.mode = mode;
    }

    /// Everything needed to resume this upload with [`S3Storage::resume_from`].
    pub fn state(&self) -> UploadState {
        UploadState {
            key: self.key.clone(),
            upload_id: self.upload_id.clone(),
            mode: self.mode,
            parts: self.completed_parts(),
        }
    }

    /// The parts S3 holds, in part-number order.
    pub fn completed_parts(&self) -> Vec<UploadedPart> {
        self.parts.values().cloned().collect()
    }

    /// Whether part `number` is already uploaded.
    pub fn has_part(&self, number: u16) -> bool {
        self.parts.contains_key(&number)
    }

    /// Uploads part `number` (`1..=10000`), replacing a part uploaded earlier with the
    /// same number.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a part number outside `1..=10000`, an empty part or one
    /// over 5 GiB;
    /// [`Error::NotFound`] when the upload was completed, aborted or expired; S3's
    /// failure otherwise, classified (a transient failure can be retried with the same
    /// part).
    pub async fn upload_part(&mut self, number: u16, bytes: Bytes) -> Result<UploadedPart> {
        let part = METRICS
            .call("upload_part", self.send_part(number, bytes))
            .await?;
        self.parts.insert(number, part.clone());
        Ok(part)
    }

    fn send_part(
        &self,
        number: u16,
        bytes: Bytes,
    ) -> impl Future<Output = Result<UploadedPart>> + Send + 'static {
        let storage = self.storage.clone();
        let key = self.key.clone();
        let upload_id = self.upload_id.clone();
        async move {
            if !(1..=MAX_PARTS).contains(&i32::from(number)) {
                return Err(Error::invalid(format!(
                    "part number {number} is outside 1..={MAX_PARTS}"
                )));
            }
            if bytes.is_empty() {
                return Err(Error::invalid(format!("part {number} is empty")));
            }
            if bytes.len() as u64 > MAX_PART_SIZE {
                return Err(Error::invalid(format!(
                    "part {number} has {} bytes, more than S3's {MAX_PART_SIZE}",
                    bytes.len()
                )));
            }
            let size = bytes.len() as u64;
            let inner = &storage.inner;
            let output = inner
                .client
                .upload_part()
                .bucket(&inner.bucket)
                .key(storage.path(&key))
                .upload_id(upload_id)
                .part_number(i32::from(number))
                .content_length(i64::try_from(size).unwrap_or(i64::MAX))
                .body(bytes.into())
                .send()
                .await
                .map_err(|error| storage.sdk_error("upload_part", error, Some(&key)))?;
            let etag = output.e_tag.ok_or_else(|| {
                Error::backend(ADAPTER, format!("UploadPart {number} answered no ETag"))
            })?;
            Ok(UploadedPart { number, etag, size })
        }
    }

    /// Assembles the uploaded parts into the object.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when no part was uploaded, or S3 refuses the parts (a part
    /// but the last smaller than 5 MiB); [`Error::AlreadyExists`] in
    /// [`PutMode::Create`] when an object exists at the key (the upload stays open:
    /// [`abort`](Self::abort) it); [`Error::NotFound`] when the upload is gone; S3's
    /// failure otherwise.
    pub async fn complete(&self) -> Result<PutResult> {
        METRICS.call("complete_upload", self.complete_inner()).await
    }

    pub(crate) async fn complete_inner(&self) -> Result<PutResult> {
        if self.parts.is_empty() {
            return Err(Error::invalid(
                "a multipart upload needs at least one part before it can complete",
            ));
        }
        let storage = &self.storage;
        let inner = &storage.inner;
        let parts = self
            .parts
            .values()
            .map(|part| {
                CompletedPart::builder()
                    .part_number(i32::from(part.number))
                    .e_tag(&part.etag)
                    .build()
            })
            .collect();
        let mut request = inner
            .client
            .complete_multipart_upload()
            .bucket(&inner.bucket)
            .key(storage.path(&self.key))
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            );
        if self.mode == PutMode::Create {
            request = request.if_none_match("*");
        }
        let output = request.send().await.map_err(|error| {
            storage.sdk_error("complete_multipart_upload", error, Some(&self.key))
        })?;
        Ok(PutResult {
            etag: output.e_tag,
            size: self.parts.values().map(|part| part.size).sum(),
        })
    }

    /// Abandons the upload: S3 drops the parts. Aborting an upload S3 no longer knows
    /// succeeds (aborts are idempotent).
    ///
    /// # Errors
    ///
    /// S3's failure, classified.
    pub async fn abort(self) -> Result<()> {
        METRICS.call("abort_upload", self.abort_inner()).await
    }

    pub(crate) async fn abort_inner(&self) -> Result<()> {
        let storage = &self.storage;
        let inner = &storage.inner;
        let sent = inner
            .client
            .abort_multipart_upload()
            .bucket(&inner.bucket)
            .key(storage.path(&self.key))
            .upload_id(&self.upload_id)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = crate::error::S3Error::from_sdk(
                    "abort_multipart_upload",
                    inner.operation_timeout,
                    error,
                );
                if error.is_not_found() {
                    Ok(())
                } else {
                    Err(error.into_port(Some(&self.key)))
                }
            }
        }
    }

    /// Sends everything `reader` yields as parts `1, 2, ...` of `part_size` bytes,
    /// reading the next part while the previous one uploads, so at most two parts are
    /// in memory.
    pub(crate) async fn upload_stream(&mut self, reader: &mut PartReader) -> Result<()> {
        let part_size = self.storage.inner.part_size;
        let mut number: u16 = 0;
        let mut in_flight = None;
        loop {
            let (uploaded, next) = match in_flight.take() {
                Some(upload) => {
                    let (uploaded, next) = futures::join!(upload, reader.next_part(part_size));
                    (Some(uploaded), next)
                }
                None => (None, reader.next_part(part_size).await),
            };
            if let Some(uploaded) = uploaded {
                let part: UploadedPart = uploaded?;
                self.parts.insert(part.number, part);
            }
            let Some(bytes) = next? else {
                return Ok(());
            };
            number = number
                .checked_add(1)
                .filter(|n| i32::from(*n) <= MAX_PARTS)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "the body needs more than {MAX_PARTS} parts of {part_size} bytes: \
                         raise `part_size`"
                    ))
                })?;
            in_flight = Some(self.send_part(number, bytes));
        }
    }
}

/// Cuts a body stream into parts of a given size, holding no more than one part (plus
/// one chunk) at a time.
pub(crate) struct PartReader {
    body: ByteStream,
    pending: VecDeque<Bytes>,
    buffered: usize,
    ended: bool,
}

impl PartReader {
    pub(crate) fn new(body: ByteStream) -> Self {
        Self {
            body,
            pending: VecDeque::new(),
            buffered: 0,
            ended: false,
        }
    }

    /// How many bytes are read but not taken yet.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Reads chunks until `want` bytes are buffered or the body ends.
    ///
    /// # Errors
    ///
    /// The body stream's own error, unchanged.
    pub(crate) async fn fill(&mut self, want: usize) -> Result<()> {
        while self.buffered < want && !self.ended {
            match self.body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    if !chunk.is_empty() {
                        self.buffered += chunk.len();
                        self.pending.push_back(chunk);
                    }
                }
                None => self.ended = true,
            }
        }
        Ok(())
    }

    /// Takes the first `len` buffered bytes (`len <= buffered`), without copying when
    /// they sit in one chunk.
    pub(crate) fn take(&mut self, len: usize) -> Bytes {
        let len = len.min(self.buffered);
        self.buffered -= len;
        if let Some(front) = self.pending.front_mut()
            && front.len() >= len
        {
            let taken = front.split_to(len);
            if front.is_empty() {
                self.pending.pop_front();
            }
            return taken;
        }
        let mut joined = BytesMut::with_capacity(len);
        while joined.len() < len {
            let Some(mut chunk) = self.pending.pop_front() else {
                break;
            };
            let wanted = len - joined.len();
            if chunk.len() > wanted {
                joined.extend_from_slice(&chunk.split_to(wanted));
                self.pending.push_front(chunk);
            } else {
                joined.extend_from_slice(&chunk);
            }
        }
        joined.freeze()
    }

    /// The next part of `size` bytes (shorter only at the end), or `None` at the end.
    pub(crate) async fn next_part(&mut self, size: usize) -> Result<Option<Bytes>> {
        self.fill(size).await?;
        if self.buffered == 0 {
            return Ok(None);
        }
        Ok(Some(self.take(size)))
    }
}

#[cfg(test)]
mod tests {
    use futures::stream;

    use super::*;

    fn body(chunks: &[&'static [u8]]) -> ByteStream {
        let chunks: Vec<Result<Bytes>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        stream::iter(chunks).boxed()
    }

    #[tokio::test]
    async fn parts_are_cut_at_the_size_across_chunks() {
        let mut reader = PartReader::new(body(&[b"abc", b"", b"defg", b"h", b"ijklmnop"]));
        let mut parts = Vec::new();
        while let Some(part) = reader.next_part(5).await.unwrap() {
            parts.push(part);
        }
        assert_eq!(parts, ["abcde", "fghij", "klmno", "p"]);
        assert_eq!(reader.buffered(), 0);
    }

    #[tokio::test]
    async fn one_big_chunk_is_split_without_copying() {
        let data = Bytes::from_static(b"0123456789");
        let mut reader = PartReader::new(stream::once(async { Ok(data) }).boxed());
        let first = reader.next_part(4).await.unwrap().unwrap();
        assert_eq!(first, "0123");
        assert_eq!(reader.next_part(4).await.unwrap().unwrap(), "4567");
        assert_eq!(reader.next_part(4).await.unwrap().unwrap(), "89");
        assert_eq!(reader.next_part(4).await.unwrap(), None);
    }

    #[tokio::test]
    async fn fill_stops_at_the_wanted_length_and_reports_stream_errors() {
        let mut reader = PartReader::new(
            stream::iter([
                Ok(Bytes::from_static(b"abc")),
                Ok(Bytes::from_static(b"def")),
                Err(Error::transient("cut")),
            ])
            .boxed(),
        );
        reader.fill(2).await.unwrap();
        assert_eq!(reader.buffered(), 3);
        assert!(matches!(
            reader.fill(100).await,
            Err(Error::Transient { .. })
        ));
    }
}
