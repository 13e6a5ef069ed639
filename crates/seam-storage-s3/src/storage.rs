//! [`S3Storage`]: the [`ObjectStorage`] port over `aws-sdk-s3`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::DateTime as AwsDateTime;
use aws_sdk_s3::types::{ObjectCannedAcl, ServerSideEncryption, StorageClass};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use seam_core::{ExposeSecret, Health, HealthCheck, SharedClock, SystemClock};
use seam_storage::{
    ByteRange, ByteStream, Error, GetOptions, GetResult, ListOptions, ListPage, ObjectKey,
    ObjectMeta, ObjectStorage, PutMode, PutOptions, PutResult, Result, SignedMethod, SignedUrl,
    validate_expiry,
};

use crate::config::{MAX_PARTS, S3Config, Sse};
use crate::error::S3Error;
use crate::multipart::{PartReader, ResumableUpload, UploadState, UploadedPart};
use crate::{ADAPTER, METRICS};

/// The user-metadata entry recording [`PutOptions::public`]; stripped from the metadata
/// callers see, and refused in the metadata they write.
pub const PUBLIC_METADATA_KEY: &str = "seam-public";

/// Characters escaped in `x-amz-copy-source`: everything but unreserved characters and `/`.
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The most open uploads [`S3Storage::pending_uploads`] collects.
pub const MAX_PENDING_UPLOADS: usize = 10_000;

/// A multipart upload S3 holds open, from [`S3Storage::pending_uploads`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    /// The key the object will have.
    pub key: ObjectKey,
    /// S3's id of the upload, for [`S3Storage::resume`].
    pub upload_id: String,
    /// When it was started, when S3 says.
    pub initiated: Option<DateTime<Utc>>,
}

/// An [`ObjectStorage`] over one S3 bucket (AWS or S3-compatible), with what AWS teams
/// need beyond the port: presigned URLs, server-side encryption, storage classes and
/// resumable multipart uploads ([`start_upload`](Self::start_upload),
/// [`resume`](Self::resume)). Build it with [`S3Config::build`]. Cheap to clone.
#[derive(Clone)]
pub struct S3Storage {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) client: Client,
    pub(crate) bucket: String,
    pub(crate) root: String,
    pub(crate) sse: Option<Sse>,
    pub(crate) storage_class: Option<StorageClass>,
    pub(crate) public_acl: bool,
    pub(crate) multipart_threshold: usize,
    pub(crate) part_size: usize,
    pub(crate) operation_timeout: Duration,
    pub(crate) clock: SharedClock,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.inner.bucket)
            .field("root", &self.inner.root)
            .field("sse", &self.inner.sse)
            .field("storage_class", &self.inner.storage_class)
            .field("part_size", &self.inner.part_size)
            .finish_non_exhaustive()
    }
}

impl S3Config {
    /// Checks the configuration, naming every problem at once.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing what is wrong: bucket name, region, endpoint URL,
    /// empty credentials, unknown storage class, part sizes outside 5 MiB..=5 GiB, zero
    /// timeouts, a root prefix that is not a valid key prefix ending with `/`.
    pub fn validate(&self) -> Result<()> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid(format!(
                "S3 storage configuration: {}",
                problems.join("; ")
            )))
        }
    }

    /// Validates the configuration and builds the adapter (no network call).
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate).
    pub fn build(self) -> Result<S3Storage> {
        self.validate()?;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.operation_timeout)
            .build();
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.region.clone()))
            .force_path_style(self.force_path_style)
            .timeout_config(timeouts)
            .retry_config(RetryConfig::standard().with_max_attempts(self.max_attempts));
        builder = match (&self.access_key_id, &self.secret_access_key) {
            (Some(id), Some(secret)) => builder.credentials_provider(Credentials::new(
                id.clone(),
                secret.expose_secret().clone(),
                self.session_token
                    .as_ref()
                    .map(|token| token.expose_secret().clone()),
                None,
                "seam-config",
            )),
            #[cfg(feature = "default-credentials")]
            _ => builder.credentials_provider(default_chain(&self.region)),
            // Refused by `validate` above.
            #[cfg(not(feature = "default-credentials"))]
            _ => builder,
        };
        if let Some(endpoint) = &self.endpoint {
            // S3-compatible servers often reject the flexible checksums (aws-chunked
            // trailers) the SDK sends to AWS by default; send them only when required.
            builder = builder
                .endpoint_url(endpoint.trim_end_matches('/'))
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        Ok(S3Storage {
            inner: Arc::new(Inner {
                client: Client::from_conf(builder.build()),
                bucket: self.bucket,
                root: self.root,
                sse: self.server_side_encryption,
                storage_class: self.storage_class.as_deref().map(StorageClass::from),
                public_acl: self.public_acl,
                // Validated to 5 MiB..=5 GiB, which fits a usize on 64-bit targets.
                multipart_threshold: usize::try_from(self.multipart_threshold)
                    .unwrap_or(usize::MAX),
                part_size: usize::try_from(self.part_size).unwrap_or(usize::MAX),
                operation_timeout: self.operation_timeout,
                clock: SystemClock::shared(),
            }),
        })
    }
}

/// The AWS default credential chain, built without waiting: environment, shared
/// profile, web identity (EKS IRSA), ECS container, EC2 instance metadata, in that
/// order. Each provider caches and refreshes its own credentials.
#[cfg(feature = "default-credentials")]
fn default_chain(region: &str) -> aws_config::meta::credentials::CredentialsProviderChain {
    use aws_config::ecs::EcsCredentialsProvider;
    use aws_config::environment::EnvironmentVariableCredentialsProvider;
    use aws_config::imds::credentials::ImdsCredentialsProvider;
    use aws_config::meta::credentials::CredentialsProviderChain;
    use aws_config::profile::ProfileFileCredentialsProvider;
    use aws_config::provider_config::ProviderConfig;
    use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;

    let config = ProviderConfig::default().with_region(Some(Region::new(region.to_owned())));
    CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        ProfileFileCredentialsProvider::builder()
            .configure(&config)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        WebIdentityTokenCredentialsProvider::builder()
            .configure(&config)
            .build(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder().configure(&config).build(),
    )
    .or_else(
        "Ec2InstanceMetadata",
        ImdsCredentialsProvider::builder()
            .configure(&config)
            .build(),
    )
}

impl S3Storage {
    /// The same storage, reading wall-clock time (for signed URLs' start and expiry)
    /// from `clock`.
    pub fn with_clock(self, clock: SharedClock) -> Self {
        let inner = &self.inner;
        Self {
            inner: Arc::new(Inner {
                client: inner.client.clone(),
                bucket: inner.bucket.clone(),
                root: inner.root.clone(),
                sse: inner.sse.clone(),
                storage_class: inner.storage_class.clone(),
                public_acl: inner.public_acl,
                multipart_threshold: inner.multipart_threshold,
                part_size: inner.part_size,
                operation_timeout: inner.operation_timeout,
                clock,
            }),
        }
    }

    /// The underlying SDK client, for S3 operations the port does not model.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The bucket this storage writes to.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket
    }

    /// Starts a multipart upload at `key` whose parts the caller sends, possibly from
    /// several processes and across crashes: persist [`ResumableUpload::upload_id`] and
    /// continue with [`resume`](Self::resume). Content type, metadata, `public`,
    /// encryption and storage class are fixed now; `options.mode` applies at
    /// [`ResumableUpload::complete`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for bad options, or S3's failure, classified.
    pub async fn start_upload(
        &self,
        key: &ObjectKey,
        options: &PutOptions,
    ) -> Result<ResumableUpload> {
        METRICS
            .call("start_upload", self.start_upload_inner(key, options))
            .await
    }

    async fn start_upload_inner(
        &self,
        key: &ObjectKey,
        options: &PutOptions,
    ) -> Result<ResumableUpload> {
        let metadata = self.write_metadata(options)?;
        let inner = &self.inner;
        let output = inner
            .client
            .create_multipart_upload()
            .bucket(&inner.bucket)
            .key(self.path(key))
            .set_content_type(options.content_type.clone())
            .set_metadata(Some(metadata))
            .set_server_side_encryption(inner.sse_header())
            .set_ssekms_key_id(inner.kms_key_id())
            .set_storage_class(inner.storage_class.clone())
            .set_acl(inner.acl(options.public))
            .send()
            .await
            .map_err(|error| self.sdk_error("create_multipart_upload", error, Some(key)))?;
        let upload_id = output.upload_id.ok_or_else(|| {
            Error::backend(
                ADAPTER,
                "CreateMultipartUpload answered without an upload id",
            )
        })?;
        Ok(ResumableUpload::new(
            self.clone(),
            key.clone(),
            upload_id,
            options.mode,
            BTreeMap::new(),
        ))
    }

    /// Continues the multipart upload `upload_id` at `key` (after a crash, or in another
    /// process) knowing only its id: asks S3 which parts it holds (`ListParts`), so
    /// [`ResumableUpload::completed_parts`] says what is left to send. The write mode
    /// is [`PutMode::Overwrite`] unless set with [`ResumableUpload::set_mode`].
    ///
    /// A part listed without an ETag (some S3-compatible servers, such as s3s-fs,
    /// omit them) cannot be completed, so it counts as missing and is sent again;
    /// [`resume_from`](Self::resume_from) with the persisted ETags avoids that.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when S3 knows no such upload at `key` (completed, aborted or
    /// expired), or S3's failure, classified.
    pub async fn resume(&self, key: &ObjectKey, upload_id: &str) -> Result<ResumableUpload> {
        METRICS
            .call("resume_upload", async {
                let parts = self
                    .list_parts(key, upload_id)
                    .await?
                    .into_values()
                    .filter_map(|part| {
                        let etag = part.etag?;
                        Some((
                            part.number,
                            UploadedPart {
                                number: part.number,
                                etag,
                                size: part.size.unwrap_or(0),
                            },
                        ))
                    })
                    .collect();
                Ok(ResumableUpload::new(
                    self.clone(),
                    key.clone(),
                    upload_id.to_owned(),
                    PutMode::Overwrite,
                    parts,
                ))
            })
            .await
    }

    /// Continues a multipart upload from its persisted [`UploadState`]
    /// ([`ResumableUpload::state`]), checked against what S3 holds (`ListParts`): a
    /// persisted part counts as sent only when S3 lists it with the same size and (when
    /// S3 says) the same ETag; parts S3 lists with an ETag but the state lacks (sent
    /// after the state was saved) count too. Everything else is sent again.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when S3 knows no such upload at the key (completed, aborted
    /// or expired), or S3's failure, classified.
    pub async fn resume_from(&self, state: UploadState) -> Result<ResumableUpload> {
        METRICS
            .call("resume_upload", async {
                let listed = self.list_parts(&state.key, &state.upload_id).await?;
                let mut parts = BTreeMap::new();
                for part in state.parts {
                    let Some(held) = listed.get(&part.number) else {
                        continue;
                    };
                    let same_etag = held.etag.as_ref().is_none_or(|etag| *etag == part.etag);
                    let same_size = held.size.is_none_or(|size| size == part.size);
                    if same_etag && same_size {
                        parts.insert(part.number, part);
                    }
                }
                for (number, held) in listed {
                    if let (false, Some(etag)) = (parts.contains_key(&number), held.etag) {
                        let size = held.size.unwrap_or(0);
                        parts.insert(number, UploadedPart { number, etag, size });
                    }
                }
                Ok(ResumableUpload::new(
                    self.clone(),
                    state.key,
                    state.upload_id,
                    state.mode,
                    parts,
                ))
            })
            .await
    }

    /// The multipart uploads S3 holds open under `prefix` (below the root), oldest
    /// key first: to resume uploads whose state was lost, or to abort abandoned ones
    /// (`resume(&upload.key, &upload.upload_id)`, then [`ResumableUpload::abort`]).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a bad prefix; [`Error::Invalid`] when more than
    /// [`MAX_PENDING_UPLOADS`] are open (abort some, or narrow the prefix); S3's
    /// failure otherwise ([`Error::NotSupported`] where the server does not implement
    /// `ListMultipartUploads`, as s3s-fs).
    pub async fn pending_uploads(&self, prefix: &str) -> Result<Vec<PendingUpload>> {
        METRICS
            .call("pending_uploads", self.pending_uploads_inner(prefix))
            .await
    }

    async fn pending_uploads_inner(&self, prefix: &str) -> Result<Vec<PendingUpload>> {
        seam_storage::validate_prefix(prefix)?;
        let inner = &self.inner;
        let mut uploads = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        // Every page but the last holds at least one upload, so this bounds the loop.
        for _ in 0..=MAX_PENDING_UPLOADS {
            let output = inner
                .client
                .list_multipart_uploads()
                .bucket(&inner.bucket)
                .prefix(format!("{}{prefix}", inner.root))
                .set_key_marker(key_marker.take())
                .set_upload_id_marker(id_marker.take())
                .send()
                .await
                .map_err(|error| self.sdk_error("list_multipart_uploads", error, None))?;
            for upload in output.uploads() {
                let (Some(full), Some(upload_id)) = (upload.key(), upload.upload_id()) else {
                    continue;
                };
                let Some(key) = full
                    .strip_prefix(inner.root.as_str())
                    .and_then(|relative| ObjectKey::parse(relative).ok())
                else {
                    continue;
                };
                uploads.push(PendingUpload {
                    key,
                    upload_id: upload_id.to_owned(),
                    initiated: upload.initiated().map(|time| to_chrono(Some(*time))),
                });
            }
            if uploads.len() > MAX_PENDING_UPLOADS {
                return Err(Error::invalid(format!(
                    "more than {MAX_PENDING_UPLOADS} multipart uploads are open under {prefix:?}"
                )));
            }
            match (output.is_truncated, output.next_key_marker) {
                (Some(true), Some(next)) if !next.is_empty() => {
                    key_marker = Some(next);
                    id_marker = output.next_upload_id_marker;
                }
                _ => return Ok(uploads),
            }
        }
        Err(Error::backend(
            ADAPTER,
            "ListMultipartUploads kept answering pages without end",
        ))
    }

    /// The full S3 key of `key`, below the configured root.
    pub(crate) fn path(&self, key: &ObjectKey) -> String {
        format!("{}{}", self.inner.root, key.as_str())
    }

    pub(crate) fn sdk_error<E>(
        &self,
        op: &'static str,
        error: aws_sdk_s3::error::SdkError<E>,
        key: Option<&ObjectKey>,
    ) -> Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        S3Error::from_sdk(op, self.inner.operation_timeout, error).into_port(key)
    }

    /// The user metadata to store: the caller's, plus the `public` marker.
    fn write_metadata(&self, options: &PutOptions) -> Result<HashMap<String, String>> {
        options.validate()?;
        if options.metadata.contains_key(PUBLIC_METADATA_KEY) {
            return Err(Error::invalid(format!(
                "metadata key {PUBLIC_METADATA_KEY:?} is reserved by the S3 storage adapter"
            )));
        }
        let mut metadata: HashMap<String, String> = options
            .metadata
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if options.public {
            metadata.insert(PUBLIC_METADATA_KEY.to_owned(), "true".to_owned());
        }
        Ok(metadata)
    }

    async fn put_single(
        &self,
        key: &ObjectKey,
        body: Bytes,
        options: &PutOptions,
        metadata: HashMap<String, String>,
    ) -> Result<PutResult> {
        let inner = &self.inner;
        let size = body.len() as u64;
        let mut request = inner
            .client
            .put_object()
            .bucket(&inner.bucket)
            .key(self.path(key))
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .body(body.into())
            .set_content_type(options.content_type.clone())
            .set_metadata(Some(metadata))
            .set_server_side_encryption(inner.sse_header())
            .set_ssekms_key_id(inner.kms_key_id())
            .set_storage_class(inner.storage_class.clone())
            .set_acl(inner.acl(options.public));
        if options.mode == PutMode::Create {
            request = request.if_none_match("*");
        }
        let output = request
            .send()
            .await
            .map_err(|error| self.sdk_error("put_object", error, Some(key)))?;
        Ok(PutResult {
            etag: output.e_tag,
            size,
        })
    }

    /// Streams a body longer than the threshold as a multipart upload, aborting it on
    /// any failure so no parts are left behind (and billed).
    async fn put_multipart(
        &self,
        key: &ObjectKey,
        mut reader: PartReader,
        options: &PutOptions,
    ) -> Result<PutResult> {
        // `If-None-Match` is only checked at completion: fail before sending gigabytes
        // when the key is taken already (the condition still guards the race).
        if options.mode == PutMode::Create {
            match self.head_inner(key).await {
                Ok(_) => return Err(Error::already_exists(key)),
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error),
            }
        }
        let mut upload = self.start_upload_inner(key, options).await?;
        let outcome = match upload.upload_stream(&mut reader).await {
            Ok(()) => upload.complete_inner().await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(result) => Ok(result),
            Err(error) => {
                if let Err(abort) = upload.abort_inner().await {
                    tracing::warn!(
                        key = %key,
                        upload_id = upload.upload_id(),
                        error.message = %abort,
                        "aborting a failed multipart upload failed; a lifecycle rule must clean it up"
                    );
                }
                Err(error)
            }
        }
    }

    async fn list_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
    ) -> Result<BTreeMap<u16, ListedPart>> {
        let inner = &self.inner;
        let mut parts = BTreeMap::new();
        let mut marker: Option<String> = None;
        // 10 000 parts at most, 1 000 per page: 10 pages, plus slack for servers that
        // page smaller.
        for _ in 0..=MAX_PARTS {
            let output = inner
                .client
                .list_parts()
                .bucket(&inner.bucket)
                .key(self.path(key))
                .upload_id(upload_id)
                .max_parts(1000)
                .set_part_number_marker(marker.take())
                .send()
                .await
                .map_err(|error| self.sdk_error("list_parts", error, Some(key)))?;
            for part in output.parts() {
                let number = part
                    .part_number
                    .and_then(|number| u16::try_from(number).ok())
                    .filter(|number| (1..=MAX_PARTS).contains(&i32::from(*number)))
                    .ok_or_else(|| {
                        Error::backend(
                            ADAPTER,
                            format!("ListParts answered part number {:?}", part.part_number),
                        )
                    })?;
                let listed = ListedPart {
                    number,
                    etag: part.e_tag.clone().filter(|etag| !etag.is_empty()),
                    size: part.size.and_then(|size| u64::try_from(size).ok()),
                };
                parts.insert(number, listed);
            }
            match (output.is_truncated, output.next_part_number_marker) {
                (Some(true), Some(next)) if !next.is_empty() => marker = Some(next),
                _ => return Ok(parts),
            }
        }
        Err(Error::backend(
            ADAPTER,
            "ListParts kept answering more pages than an upload can have parts",
        ))
    }

    async fn head_inner(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let inner = &self.inner;
        let output = inner
            .client
            .head_object()
            .bucket(&inner.bucket)
            .key(self.path(key))
            .send()
            .await;
        let output = match output {
            Ok(output) => output,
            Err(error) => {
                let error = S3Error::from_sdk("head_object", inner.operation_timeout, error);
                return Err(match error.status() {
                    // A HEAD answer has no body, so a 403 does not say whether the
                    // credentials or the permissions are wrong: a one-byte GET tells.
                    Some(403) => self
                        .why_forbidden(key)
                        .await
                        .unwrap_or_else(|| error.into_port(Some(key))),
                    _ => error.into_port(Some(key)),
                });
            }
        };
        let size = non_negative(output.content_length)?;
        Ok(object_meta(
            key.clone(),
            size,
            output.content_type,
            output.e_tag,
            output.last_modified,
            output.metadata,
        ))
    }

    /// The error a one-byte GET of `key` answers, when it is an authentication or
    /// permission error with a code.
    async fn why_forbidden(&self, key: &ObjectKey) -> Option<Error> {
        let inner = &self.inner;
        let error = inner
            .client
            .get_object()
            .bucket(&inner.bucket)
            .key(self.path(key))
            .range("bytes=0-0")
            .send()
            .await
            .err()?;
        let error = S3Error::from_sdk("get_object", inner.operation_timeout, error);
        matches!(error.status(), Some(401 | 403)).then(|| error.into_port(Some(key)))
    }

    async fn get_inner(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        let inner = &self.inner;
        if let Some(range) = options.range {
            // Ranges no HTTP Range header can express still need the size in the error.
            let empty = match range {
                ByteRange::Bounded {
                    start,
                    end_exclusive,
                } => start >= end_exclusive,
                ByteRange::Suffix { len } => len == 0,
                ByteRange::From { .. } => false,
            };
            if empty {
                let size = self.head_inner(key).await?.size;
                range.resolve(size)?;
            }
        }
        let mut asked = options.range;
        let mut fallback_used = false;
        let output = loop {
            let sent = inner
                .client
                .get_object()
                .bucket(&inner.bucket)
                .key(self.path(key))
                .set_range(asked.map(|range| range.to_string()))
                .send()
                .await;
            let error = match sent {
                Ok(output) => break output,
                Err(error) => S3Error::from_sdk("get_object", inner.operation_timeout, error),
            };
            match (asked, error.status()) {
                (Some(range), Some(416)) => {
                    let size = self.head_inner(key).await?.size;
                    return Err(match range.resolve(size) {
                        Err(unsatisfiable) => unsatisfiable,
                        Ok(_) => Error::RangeNotSatisfiable { size },
                    });
                }
                // Some S3-compatible servers (s3s-fs 0.14) fail with a 500 on a suffix
                // longer than the object, where S3 answers the whole object: ask once
                // more for the same bytes as a bounded range.
                (Some(suffix @ ByteRange::Suffix { .. }), Some(500..=599)) if !fallback_used => {
                    fallback_used = true;
                    let size = self.head_inner(key).await?.size;
                    let bytes = suffix.resolve(size)?;
                    asked = Some(ByteRange::Bounded {
                        start: bytes.start,
                        end_exclusive: bytes.end,
                    });
                }
                _ => return Err(error.into_port(Some(key))),
            }
        };
        let length = non_negative(output.content_length)?;
        let (range, size) = match (asked, output.content_range.as_deref()) {
            (_, Some(content_range)) => parse_content_range(content_range)?,
            (None, None) => (0..length, length),
            (Some(asked), None) => {
                // The server sent the whole object: fine only when that is what was asked.
                let whole = 0..length;
                if asked.resolve(length)? != whole {
                    return Err(Error::backend(
                        ADAPTER,
                        "the server ignored the Range header and sent the whole object",
                    ));
                }
                (whole, length)
            }
        };
        let meta = object_meta(
            key.clone(),
            size,
            output.content_type,
            output.e_tag,
            output.last_modified,
            output.metadata,
        );
        let body: ByteStream = futures::stream::unfold(output.body, |mut body| async move {
            body.next().await.map(|chunk| {
                let chunk = chunk.map_err(|error| {
                    Error::transient_from("reading the object from S3 failed", error)
                });
                (chunk, body)
            })
        })
        .boxed();
        Ok(GetResult { meta, range, body })
    }

    async fn list_inner(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let inner = &self.inner;
        let output = inner
            .client
            .list_objects_v2()
            .bucket(&inner.bucket)
            .prefix(format!("{}{}", inner.root, options.prefix))
            .max_keys(i32::try_from(options.page_size).unwrap_or(1000))
            .set_continuation_token(options.continuation)
            .send()
            .await
            .map_err(|error| self.sdk_error("list_objects_v2", error, None))?;
        let mut objects = Vec::with_capacity(output.contents().len());
        for object in output.contents() {
            let Some(full) = object.key() else { continue };
            let Some(relative) = full.strip_prefix(inner.root.as_str()) else {
                continue;
            };
            // Objects written by other tools may carry keys this port refuses: they are
            // not reachable through the port, so they are not listed either.
            let Ok(key) = ObjectKey::parse(relative) else {
                tracing::debug!(key = ?full, "skipping an S3 object whose key is not a valid ObjectKey");
                continue;
            };
            objects.push(object_meta(
                key,
                non_negative(object.size)?,
                None,
                object.e_tag.clone(),
                object.last_modified,
                None,
            ));
        }
        let next = match output.is_truncated {
            Some(true) => output
                .next_continuation_token
                .filter(|token| !token.is_empty()),
            _ => None,
        };
        Ok(ListPage { objects, next })
    }

    async fn copy_inner(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        let inner = &self.inner;
        // S3 does not copy ACLs: a public object copied under `public_acl` needs its
        // ACL again, so look at the source first.
        let acl = if inner.public_acl {
            inner.acl(self.head_inner(from).await?.public)
        } else {
            None
        };
        let source = format!(
            "{}/{}",
            inner.bucket,
            utf8_percent_encode(&self.path(from), COPY_SOURCE)
        );
        inner
            .client
            .copy_object()
            .bucket(&inner.bucket)
            .key(self.path(to))
            .copy_source(source)
            .set_server_side_encryption(inner.sse_header())
            .set_ssekms_key_id(inner.kms_key_id())
            .set_storage_class(inner.storage_class.clone())
            .set_acl(acl)
            .send()
            .await
            .map_err(|error| self.sdk_error("copy_object", error, Some(from)))?;
        Ok(())
    }

    async fn signed_url_inner(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        validate_expiry(expires_in)?;
        let inner = &self.inner;
        let start = inner.clock.system_time();
        let presigning = PresigningConfig::builder()
            .start_time(start)
            .expires_in(expires_in)
            .build()
            .map_err(|error| Error::invalid(format!("signed URL lifetime: {error}")))?;
        // Encryption and storage class are left out of a signed PUT: they would become
        // signed headers the holder of the URL must send. The bucket's default
        // encryption applies.
        let request = match method {
            SignedMethod::Get => inner
                .client
                .get_object()
                .bucket(&inner.bucket)
                .key(self.path(key))
                .presigned(presigning)
                .await
                .map_err(|error| self.sdk_error("presign_get_object", error, Some(key)))?,
            SignedMethod::Put => inner
                .client
                .put_object()
                .bucket(&inner.bucket)
                .key(self.path(key))
                .presigned(presigning)
                .await
                .map_err(|error| self.sdk_error("presign_put_object", error, Some(key)))?,
        };
        Ok(SignedUrl {
            url: request.uri().to_owned(),
            method,
            expires_at: DateTime::<Utc>::from(start + expires_in),
        })
    }
}

/// A part as `ListParts` describes it; some servers leave out the ETag or the size.
struct ListedPart {
    number: u16,
    etag: Option<String>,
    size: Option<u64>,
}

impl Inner {
    pub(crate) fn sse_header(&self) -> Option<ServerSideEncryption> {
        match &self.sse {
            None => None,
            Some(Sse::S3) => Some(ServerSideEncryption::Aes256),
            Some(Sse::Kms { .. }) => Some(ServerSideEncryption::AwsKms),
        }
    }

    pub(crate) fn kms_key_id(&self) -> Option<String> {
        match &self.sse {
            Some(Sse::Kms { key_id }) => key_id.clone(),
            _ => None,
        }
    }

    pub(crate) fn acl(&self, public: bool) -> Option<ObjectCannedAcl> {
        (self.public_acl && public).then_some(ObjectCannedAcl::PublicRead)
    }
}

fn non_negative(value: Option<i64>) -> Result<u64> {
    let value = value.unwrap_or(0);
    u64::try_from(value)
        .map_err(|_| Error::backend(ADAPTER, format!("S3 answered a negative length {value}")))
}

fn to_chrono(time: Option<AwsDateTime>) -> DateTime<Utc> {
    time.and_then(|time| DateTime::from_timestamp(time.secs(), time.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

fn object_meta(
    key: ObjectKey,
    size: u64,
    content_type: Option<String>,
    etag: Option<String>,
    last_modified: Option<AwsDateTime>,
    metadata: Option<HashMap<String, String>>,
) -> ObjectMeta {
    let mut metadata: BTreeMap<String, String> = metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    let public = metadata
        .remove(PUBLIC_METADATA_KEY)
        .is_some_and(|value| value == "true");
    ObjectMeta {
        key,
        size,
        content_type,
        etag,
        last_modified: to_chrono(last_modified),
        metadata,
        public,
    }
}

/// `bytes 0-9/100` -> (`0..10`, `100`).
fn parse_content_range(header: &str) -> Result<(Range<u64>, u64)> {
    let invalid = || Error::backend(ADAPTER, format!("S3 answered Content-Range {header:?}"));
    let spec = header.trim().strip_prefix("bytes ").ok_or_else(invalid)?;
    let (span, total) = spec.split_once('/').ok_or_else(invalid)?;
    let (first, last) = span.split_once('-').ok_or_else(invalid)?;
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| invalid());
    let (first, last, total) = (number(first)?, number(last)?, number(total)?);
    if last < first || last >= total {
        return Err(invalid());
    }
    Ok((first..last + 1, total))
}

#[async_trait]
impl ObjectStorage for S3Storage {
    fn adapter(&self) -> &'static str {
        ADAPTER
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        METRICS
            .call("put", async {
                let metadata = self.write_metadata(&options)?;
                let threshold = self.inner.multipart_threshold;
                let mut reader = PartReader::new(body);
                // Buffer at most the threshold (plus one chunk) to learn which way to go.
                reader.fill(threshold.saturating_add(1)).await?;
                if reader.buffered() <= threshold {
                    let body = reader.take(reader.buffered());
                    self.put_single(key, body, &options, metadata).await
                } else {
                    self.put_multipart(key, reader, &options).await
                }
            })
            .await
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        METRICS.call("get", self.get_inner(key, options)).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        METRICS.call("head", self.head_inner(key)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        METRICS
            .call("delete", async {
                let inner = &self.inner;
                match inner
                    .client
                    .delete_object()
                    .bucket(&inner.bucket)
                    .key(self.path(key))
                    .send()
                    .await
                {
                    Ok(_) => Ok(()),
                    Err(error) => {
                        let error =
                            S3Error::from_sdk("delete_object", inner.operation_timeout, error);
                        // S3 answers 204 for a missing key; some compatible servers 404.
                        if error.is_not_found() {
                            Ok(())
                        } else {
                            Err(error.into_port(Some(key)))
                        }
                    }
                }
            })
            .await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        METRICS.call("list", self.list_inner(options)).await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        METRICS.call("copy", self.copy_inner(from, to)).await
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        METRICS
            .call("signed_url", self.signed_url_inner(method, key, expires_in))
            .await
    }
}

#[async_trait]
impl HealthCheck for S3Storage {
    fn name(&self) -> &str {
        "storage-s3"
    }

    /// `HeadBucket`: the server answers, the credentials are accepted and the bucket
    /// exists.
    async fn check(&self) -> Health {
        let inner = &self.inner;
        match inner
            .client
            .head_bucket()
            .bucket(&inner.bucket)
            .send()
            .await
        {
            Ok(_) => Health::up(),
            Err(error) => {
                let error = self.sdk_error("head_bucket", error, None);
                Health::down(format!("bucket {}: {error}", inner.bucket))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_keys_the_build_needs_the_default_chain() {
        let mut config = S3Config::new("seam-test", "eu-west-1", "a", "s".parse().unwrap());
        config.access_key_id = None;
        config.secret_access_key = None;
        let built = config.build();
        if cfg!(feature = "default-credentials") {
            let storage = built.unwrap();
            assert_eq!(storage.bucket(), "seam-test");
        } else {
            let error = built.unwrap_err();
            assert!(error.to_string().contains("default-credentials"), "{error}");
        }
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("bytes 0-9/100").unwrap(), (0..10, 100));
        assert_eq!(
            parse_content_range("bytes 99-99/100").unwrap(),
            (99..100, 100)
        );
        for bad in [
            "bytes */100",
            "bytes 5-4/100",
            "bytes 0-100/100",
            "0-9/100",
            "bytes 0-9",
        ] {
            assert!(parse_content_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn copy_source_is_percent_encoded() {
        let encoded = utf8_percent_encode("dir/a b+c?&é.txt", COPY_SOURCE).to_string();
        assert_eq!(encoded, "dir/a%20b%2Bc%3F%26%C3%A9.txt");
    }

    #[test]
    fn public_marker_is_stripped_from_metadata() {
        let key = ObjectKey::parse("k").unwrap();
        let meta = object_meta(
            key,
            1,
            None,
            None,
            None,
            Some(HashMap::from([
                (PUBLIC_METADATA_KEY.to_owned(), "true".to_owned()),
                ("Order-Id".to_owned(), "o-1".to_owned()),
            ])),
        );
        assert!(meta.public);
        assert_eq!(
            meta.metadata,
            BTreeMap::from([("order-id".to_owned(), "o-1".to_owned())])
        );
    }
}
