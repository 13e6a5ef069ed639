//! Storage adapter over `aws-sdk-s3`, for what AWS teams need beyond `object_store`:
//! presigned PUT and GET, server-side encryption (SSE-S3, SSE-KMS), storage classes,
//! resumable multipart uploads, and custom endpoints with path-style addressing for
//! S3-compatible servers (MinIO, Ceph, s3s).
//!
//! [`S3Storage`] implements the [`seam_storage::ObjectStorage`] port; build it from an
//! [`S3Config`]. Calls are recorded as `seam_port_calls_total{port="storage",adapter="s3",op}`.
//! Credentials are static keys from the configuration; with the crate feature
//! `default-credentials` a configuration without keys uses the AWS default chain
//! (environment, profile, web identity as on EKS, ECS, EC2 instance metadata).
//! The SDK runs on hyper 1 with rustls; it retries only if [`S3Config::max_attempts`]
//! says so, as retrying belongs to `seam-resilience`.
//!
//! - `put` buffers at most [`S3Config::multipart_threshold`] bytes: a shorter body is
//!   one `PutObject` with a known length; a longer one streams as a multipart upload of
//!   [`S3Config::part_size`] parts, reading the next part while the previous uploads
//!   (about two parts in memory), and is aborted on any failure. [`PutMode::Create`]
//!   sends `If-None-Match: *` (on `PutObject` and `CompleteMultipartUpload`), so S3
//!   itself refuses to replace an object.
//! - Metadata travels as `x-amz-meta-*`; [`PutOptions::public`] is recorded as the
//!   `x-amz-meta-seam-public` entry ([`PUBLIC_METADATA_KEY`], reserved), and also as a
//!   `public-read` ACL when [`S3Config::public_acl`] is set.
//! - [`S3Storage::start_upload`] gives a [`ResumableUpload`] whose [`UploadState`]
//!   (upload id, parts and their ETags) can be persisted: after a crash,
//!   [`S3Storage::resume_from`] (or [`S3Storage::resume`] with the upload id alone)
//!   checks which parts S3 holds (`ListParts`) and only the missing ones are sent.
//! - Signed URLs are SigV4 presigned `GetObject`/`PutObject` requests: plain HTTP
//!   clients can use them without extra headers (encryption and storage class are left
//!   out of a signed PUT, so the bucket's defaults apply).
//!
//! ```no_run
//! use bytes::Bytes;
//! use seam_storage::{ObjectKey, ObjectStorage, PutOptions};
//! use seam_storage_s3::{S3Config, UploadState};
//!
//! # async fn example(config: S3Config, parts: Vec<Bytes>) -> seam_storage::Result<()> {
//! let storage = config.build()?;
//! let key = ObjectKey::parse("exports/2026-11.csv")?;
//! let mut upload = storage.start_upload(&key, &PutOptions::default()).await?;
//! upload.upload_part(1, parts[0].clone()).await?;
//! // Persist this (a database row, a file) after each part...
//! let saved = serde_json::to_string(&upload.state()).expect("serializable");
//!
//! // ...and after a crash, continue where S3 says the upload stands.
//! let state: UploadState = serde_json::from_str(&saved).expect("what was saved");
//! let mut upload = storage.resume_from(state).await?;
//! for (index, part) in parts.into_iter().enumerate() {
//!     let number = u16::try_from(index + 1).expect("at most 10 000 parts");
//!     if !upload.has_part(number) {
//!         upload.upload_part(number, part).await?;
//!     }
//! }
//! let written = upload.complete().await?;
//! assert_eq!(storage.head(&key).await?.size, written.size);
//! # Ok(())
//! # }
//! ```
//!
//! | S3 answer | port error |
//! | --- | --- |
//! | `NoSuchKey`, `NoSuchUpload`, 404 | [`Error::NotFound`] |
//! | `PreconditionFailed`, 412 | [`Error::AlreadyExists`] |
//! | `InvalidRange`, 416 | [`Error::RangeNotSatisfiable`] |
//! | `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `ExpiredToken`, 401 | [`Error::Unauthorized`] |
//! | `AccessDenied`, other 403 | [`Error::Forbidden`] |
//! | `SlowDown`, 429, 503 | [`Error::RateLimited`] with `Retry-After` |
//! | `NoSuchBucket` | [`Error::Unavailable`] |
//! | `NotImplemented` (S3-compatible servers) | [`Error::NotSupported`] |
//! | `InternalError`, `RequestTimeout`, other 5xx, connection failure | [`Error::Transient`] |
//! | the configured timeout | [`Error::Timeout`] |
//! | `InvalidArgument`, other 400 | [`Error::Invalid`] |
//! | anything else | [`Error::Backend`] |
//!
//! [`PutMode::Create`]: seam_storage::PutMode::Create
//! [`PutOptions::public`]: seam_storage::PutOptions::public
//! [`Error::NotFound`]: seam_storage::Error::NotFound
//! [`Error::AlreadyExists`]: seam_storage::Error::AlreadyExists
//! [`Error::RangeNotSatisfiable`]: seam_storage::Error::RangeNotSatisfiable
//! [`Error::Unauthorized`]: seam_storage::Error::Unauthorized
//! [`Error::Forbidden`]: seam_storage::Error::Forbidden
//! [`Error::RateLimited`]: seam_storage::Error::RateLimited
//! [`Error::Unavailable`]: seam_storage::Error::Unavailable
//! [`Error::Transient`]: seam_storage::Error::Transient
//! [`Error::Timeout`]: seam_storage::Error::Timeout
//! [`Error::Invalid`]: seam_storage::Error::Invalid
//! [`Error::Backend`]: seam_storage::Error::Backend
//! [`Error::NotSupported`]: seam_storage::Error::NotSupported

mod config;
mod error;
mod multipart;
mod storage;

use seam_telemetry::PortMetrics;

pub use config::{
    DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE, MAX_PART_SIZE, MAX_PARTS, MAX_SINGLE_PUT, MIB,
    MIN_PART_SIZE, S3Config, Sse,
};
pub use multipart::{ResumableUpload, UploadState, UploadedPart};
pub use storage::{MAX_PENDING_UPLOADS, PUBLIC_METADATA_KEY, PendingUpload, S3Storage};

/// The adapter's name, in metrics and errors.
pub const ADAPTER: &str = "s3";

const METRICS: PortMetrics = PortMetrics::new("storage", ADAPTER);
