//! Storage adapter over the `object_store` crate: local files (the embedded default), S3
//! (and S3-compatible servers), Google Cloud Storage and Azure Blob Storage, behind the
//! storage port's [`ObjectStorage`].
//!
//! ```no_run
//! # async fn example() -> seam_storage::Result<()> {
//! use seam_storage::{ObjectKey, ObjectStorageExt, PutOptions};
//! use seam_storage_object_store::ObjectStoreConfig;
//!
//! let storage = ObjectStoreConfig::local("data/objects").build()?;
//! let key = ObjectKey::parse("invoices/2026/inv-1.pdf")?;
//! storage.put_bytes(&key, "%PDF-".into(), PutOptions::default()).await?;
//! # Ok(()) }
//! ```
//!
//! How it behaves, per operation:
//!
//! - **put** streams: a body shorter than [`ObjectStoreConfig::multipart_threshold`] is
//!   sent in one request; a longer one as a multipart upload of
//!   [`ObjectStoreConfig::part_size`] parts, at most
//!   [`ObjectStoreConfig::max_concurrent_parts`] in flight, so memory stays bounded by
//!   about `part_size * (max_concurrent_parts + 1)`. A failing body aborts the upload
//!   and leaves the previous object in place. [`PutMode::Create`] is one conditional
//!   request (`If-None-Match: *`), which multipart uploads cannot carry: a create-only
//!   body is therefore collected in memory first.
//! - **content type, metadata and `public`** travel as object attributes on remote
//!   stores (`public` as the metadata entry [`PUBLIC_METADATA_KEY`], a name user
//!   metadata cannot take). A local file system cannot hold them: they go to sidecar
//!   files under `<root>/.seam-meta/`, so keys under `.seam-meta/` are refused there.
//!   S3 reports `binary/octet-stream` for an object written without a content type;
//!   the adapter reads that back as no content type. Azure metadata names must be C#
//!   identifiers, so Azure refuses user metadata keys containing `-` (`Invalid`).
//! - **list** pages in key order with opaque continuation tokens. Remote stores list
//!   in key order, so a page reads just past its last object. A local file system
//!   walks directories in no order: each page there reads and sorts every file under
//!   the prefix's directory (the text before its last `/`), O(n log n) per page for n
//!   files; keep local listings small or their prefixes deep. Listed objects carry
//!   size, etag and time, not content type or metadata (that would cost a request per
//!   object): use `head` for those.
//! - **signed_url** uses the store's signer (SigV4 for S3, V4 for GCS, SAS for Azure);
//!   a local file system has no URL to sign: [`Error::NotSupported`].
//! - **errors** are mapped in one place: 404 -> `NotFound` (a missing
//!   bucket -> `Unavailable`), 412/409 on create -> `AlreadyExists`, bad signature or
//!   key -> `Unauthorized`, other 403 -> `Forbidden`, 429 and S3 `SlowDown` ->
//!   `RateLimited`, 5xx and connection failures -> `Transient`, timeouts -> `Timeout`.
//!   `object_store` retries retryable failures first ([`RetrySettings`]).

mod config;
mod error;
mod list;
mod sidecar;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::signer::Signer;
use object_store::{
    Attribute, AttributeValue, Attributes, BackoffConfig, ClientOptions, GetRange, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutPayload, RetryConfig, WriteMultipart,
};
use seam_core::{ExposeSecret, Health, HealthCheck};
use seam_storage::{
    ByteRange, ByteStream, Error, GetOptions, GetResult, ListOptions, ListPage, ObjectKey,
    ObjectMeta, ObjectStorage, PutMode, PutOptions, PutResult, Result, SignedMethod, SignedUrl,
    validate_expiry,
};
use seam_telemetry::PortMetrics;

pub use config::{
    AzureConfig, BackendConfig, GcsConfig, LocalConfig, MAX_PART_SIZE, MIN_PART_SIZE,
    ObjectStoreConfig, RetrySettings, S3Config,
};

use crate::error::StoreError;
use crate::sidecar::Sidecar;

/// The metadata entry that records `public` on remote stores. User metadata keys are
/// lower-case letters, digits and `-`, so this name cannot collide with one.
pub const PUBLIC_METADATA_KEY: &str = "seam_public";

/// The content type S3 reports for an object written without one.
const S3_DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// Which backend, for names and behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Local,
    S3,
    Gcs,
    Azure,
}

impl Kind {
    const fn adapter(self) -> &'static str {
        match self {
            Self::Local => "object_store-local",
            Self::S3 => "object_store-s3",
            Self::Gcs => "object_store-gcs",
            Self::Azure => "object_store-azure",
        }
    }

    const fn metrics(self) -> PortMetrics {
        PortMetrics::new("storage", self.adapter())
    }
}

/// The storage port over an `object_store` backend. Build it with
/// [`ObjectStoreConfig::build`].
#[derive(Clone)]
pub struct ObjectStoreStorage {
    store: Arc<dyn ObjectStore>,
    signer: Option<Arc<dyn Signer>>,
    kind: Kind,
    multipart_threshold: u64,
    part_size: usize,
    max_concurrent_parts: usize,
    request_timeout: Duration,
}

impl fmt::Debug for ObjectStoreStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The store's Display names the bucket or root and nothing secret; its Debug
        // would walk into the credential provider.
        f.debug_struct("ObjectStoreStorage")
            .field("adapter", &self.kind.adapter())
            .field("store", &self.store.to_string())
            .field("multipart_threshold", &self.multipart_threshold)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

impl ObjectStoreConfig {
    /// Validates the configuration and builds the adapter. Nothing is contacted yet,
    /// except that a local root directory is created when missing.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] listing every problem ([`problems`](Self::problems)), or
    /// naming what the backend's builder refused (an unreadable service-account key, a
    /// malformed endpoint, a local root that cannot be created).
    pub fn build(&self) -> Result<ObjectStoreStorage> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(Error::invalid(format!(
                "{} storage configuration: {}",
                self.store.name(),
                problems.join("; ")
            )));
        }
        let client = ClientOptions::new()
            .with_timeout(self.request_timeout)
            .with_read_timeout(self.read_timeout)
            .with_connect_timeout(self.connect_timeout);
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.retry.initial_backoff,
                max_backoff: self.retry.max_backoff,
                base: 2.0,
            },
            max_retries: self.retry.max_retries,
            retry_timeout: self.retry.retry_timeout,
        };
        let refused = |backend: &str, error: object_store::Error| {
            Error::invalid(format!(
                "{backend} storage configuration refused: {}",
                error::chain_text(&error)
            ))
        };
        let (kind, store, signer): (Kind, Arc<dyn ObjectStore>, Option<Arc<dyn Signer>>) =
            match &self.store {
                BackendConfig::Local(local) => {
                    std::fs::create_dir_all(&local.root).map_err(|error| {
                        Error::invalid(format!(
                            "local storage root {}: cannot create it: {error}",
                            local.root.display()
                        ))
                    })?;
                    let store = LocalFileSystem::new_with_prefix(&local.root)
                        .map_err(|error| refused("local", error))?
                        .with_automatic_cleanup(true)
                        .with_fsync(local.fsync);
                    (Kind::Local, Arc::new(store), None)
                }
                BackendConfig::S3(s3) => {
                    let mut builder = match (&s3.access_key_id, &s3.secret_access_key) {
                        (Some(id), Some(secret)) => {
                            let mut builder = AmazonS3Builder::new()
                                .with_access_key_id(id)
                                .with_secret_access_key(secret.expose_secret());
                            if let Some(token) = &s3.session_token {
                                builder = builder.with_token(token.expose_secret());
                            }
                            builder
                        }
                        _ => AmazonS3Builder::from_env(),
                    };
                    builder = builder
                        .with_bucket_name(&s3.bucket)
                        .with_region(&s3.region)
                        .with_client_options(client)
                        .with_allow_http(s3.allow_http)
                        .with_virtual_hosted_style_request(s3.virtual_hosted_style)
                        .with_retry(retry);
                    if let Some(endpoint) = &s3.endpoint {
                        builder = builder.with_endpoint(endpoint);
                    }
                    let store = Arc::new(builder.build().map_err(|error| refused("s3", error))?);
                    (Kind::S3, store.clone(), Some(store))
                }
                BackendConfig::Gcs(gcs) => {
                    let mut builder = GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(&gcs.bucket)
                        .with_client_options(client)
                        .with_retry(retry);
                    if let Some(path) = &gcs.service_account_path {
                        builder = builder.with_service_account_path(path.to_string_lossy());
                    }
                    if let Some(key) = &gcs.service_account_key {
                        builder = builder.with_service_account_key(key.expose_secret());
                    }
                    let store = Arc::new(builder.build().map_err(|error| refused("gcs", error))?);
                    (Kind::Gcs, store.clone(), Some(store))
                }
                BackendConfig::Azure(azure) => {
                    let mut builder = MicrosoftAzureBuilder::from_env()
                        .with_account(&azure.account)
                        .with_container_name(&azure.container)
                        .with_client_options(client)
                        .with_allow_http(azure.allow_http)
                        .with_retry(retry);
                    if let Some(key) = &azure.access_key {
                        builder = builder.with_access_key(key.expose_secret());
                    }
                    if let Some(endpoint) = &azure.endpoint {
                        builder = builder.with_endpoint(endpoint.clone());
                    }
                    let store = Arc::new(builder.build().map_err(|error| refused("azure", error))?);
                    (Kind::Azure, store.clone(), Some(store))
                }
            };
        Ok(ObjectStoreStorage {
            store,
            signer,
            kind,
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            max_concurrent_parts: self.max_concurrent_parts,
            request_timeout: self.request_timeout,
        })
    }
}

impl ObjectStoreStorage {
    /// The underlying `object_store` store, for what the port does not offer. Writes
    /// through it bypass the local metadata sidecars.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    fn is_local(&self) -> bool {
        self.kind == Kind::Local
    }

    /// The `object_store` path of `key`: the key's text, unchanged.
    fn path(&self, key: &ObjectKey) -> Result<Path> {
        if self.is_local() && sidecar::is_reserved(key.as_str()) {
            return Err(Error::invalid_key(
                key.as_str(),
                "reserved for the local adapter's metadata sidecars",
            ));
        }
        Path::parse(key.as_str())
            .map_err(|_| Error::invalid_key(key.as_str(), "not accepted by object_store"))
    }

    fn fail(
        &self,
        operation: &'static str,
        key: Option<&ObjectKey>,
        source: object_store::Error,
    ) -> Error {
        StoreError {
            operation,
            key: key.cloned(),
            adapter: self.kind.adapter(),
            timeout: self.request_timeout,
            source,
        }
        .into()
    }

    async fn put_inner(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        options.validate()?;
        let path = self.path(key)?;
        let attributes = if self.is_local() {
            Attributes::new()
        } else {
            to_attributes(&options)
        };
        let (result, size) = match options.mode {
            PutMode::Create => {
                // A server may refuse the conditional PUT before reading the body and
                // close the connection under it, which reads as a broken pipe rather
                // than 412; asking first answers the common case cleanly. The PUT stays
                // conditional, so a race is still refused.
                if !self.is_local() && self.exists(key).await? {
                    return Err(Error::already_exists(key));
                }
                let bytes = seam_storage::body::collect(body, u64::MAX).await?;
                let size = bytes.len() as u64;
                let put_options = object_store::PutOptions {
                    mode: object_store::PutMode::Create,
                    attributes,
                    ..Default::default()
                };
                let result = self
                    .store
                    .put_opts(&path, PutPayload::from(bytes), put_options)
                    .await
                    .map_err(|error| self.fail("put", Some(key), error))?;
                (result, size)
            }
            PutMode::Overwrite => self.put_streaming(key, &path, body, attributes).await?,
        };
        if self.is_local() {
            let sidecar = Sidecar {
                content_type: options.content_type,
                metadata: options.metadata,
                public: options.public,
            };
            sidecar::write(self.store.as_ref(), key, &sidecar)
                .await
                .map_err(|error| self.fail("put", Some(key), error))?;
        }
        Ok(PutResult {
            etag: result.e_tag,
            size,
        })
    }

    /// One request for a short body, a multipart upload for a long one.
    async fn put_streaming(
        &self,
        key: &ObjectKey,
        path: &Path,
        mut body: ByteStream,
        attributes: Attributes,
    ) -> Result<(object_store::PutResult, u64)> {
        let mut head = Vec::new();
        let mut size = 0_u64;
        let mut ended = false;
        while size < self.multipart_threshold {
            match body.next().await {
                Some(chunk) => {
                    let chunk = chunk?;
                    size += chunk.len() as u64;
                    head.push(chunk);
                }
                None => {
                    ended = true;
                    break;
                }
            }
        }
        if ended {
            let put_options = object_store::PutOptions {
                attributes,
                ..Default::default()
            };
            let result = self
                .store
                .put_opts(path, head.into_iter().collect::<PutPayload>(), put_options)
                .await
                .map_err(|error| self.fail("put", Some(key), error))?;
            return Ok((result, size));
        }

        let upload = self
            .store
            .put_multipart_opts(
                path,
                PutMultipartOptions {
                    attributes,
                    ..Default::default()
                },
            )
            .await
            .map_err(|error| self.fail("put", Some(key), error))?;
        let mut upload = AbortOnDrop(Some(WriteMultipart::new_with_chunk_size(
            upload,
            self.part_size,
        )));
        // The head was counted while it was read; the rest is counted as it arrives.
        let mut rest = size;
        let chunks = futures::stream::iter(head.into_iter().map(|chunk| Ok((chunk, false))))
            .chain(body.map_ok(|chunk| (chunk, true)));
        futures::pin_mut!(chunks);
        while let Some(chunk) = chunks.next().await {
            let (chunk, counts) = match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    upload.abort().await;
                    return Err(error);
                }
            };
            if counts {
                rest += chunk.len() as u64;
            }
            let Some(writer) = upload.0.as_mut() else {
                break;
            };
            if let Err(error) = writer.wait_for_capacity(self.max_concurrent_parts).await {
                upload.abort().await;
                return Err(self.fail("put", Some(key), error));
            }
            writer.put(chunk);
        }
        let Some(writer) = upload.0.take() else {
            return Err(Error::backend(self.kind.adapter(), "multipart upload lost"));
        };
        // `finish` aborts the upload itself when a part or the completion fails.
        let result = writer
            .finish()
            .await
            .map_err(|error| self.fail("put", Some(key), error))?;
        Ok((result, rest))
    }

    async fn get_inner(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        let path = self.path(key)?;
        let range = options.range;
        if let Some(range) = range
            && selects_nothing(range)
        {
            // Never sent: `object_store` cannot express an empty range.
            let meta = self.head_inner(key).await?;
            range.resolve(meta.size)?;
        }
        let get_options = object_store::GetOptions {
            range: range.map(to_get_range),
            ..Default::default()
        };
        let result = match self.store.get_opts(&path, get_options).await {
            Ok(result) => result,
            Err(source) => {
                let error = self.fail("get", Some(key), source);
                let Some(range) = range else {
                    return Err(error);
                };
                if error.is_not_found() {
                    return Err(error);
                }
                // Backends word an unsatisfiable range differently (416, a local
                // "range starting at"): the size decides.
                let Ok(meta) = self.head_inner(key).await else {
                    return Err(error);
                };
                let bytes = range.resolve(meta.size)?;
                if !(matches!(range, ByteRange::Suffix { .. })
                    && matches!(error, Error::Transient { .. }))
                {
                    return Err(error);
                }
                // Some servers (s3s-fs) fail a suffix longer than the object with a
                // 500: ask once more for the same bytes as a bounded range.
                let bounded = object_store::GetOptions {
                    range: Some(GetRange::Bounded(bytes)),
                    ..Default::default()
                };
                self.store
                    .get_opts(&path, bounded)
                    .await
                    .map_err(|source| self.fail("get", Some(key), source))?
            }
        };
        let size = result.meta.size;
        if let Some(range) = range {
            let expected = range.resolve(size)?;
            if expected != result.range {
                return Err(Error::backend(
                    self.kind.adapter(),
                    format!(
                        "asked for {range} of {size} bytes, got bytes {}..{}",
                        result.range.start, result.range.end
                    ),
                ));
            }
        }
        let meta = self
            .to_meta(key, &result.meta, Some(&result.attributes))
            .await?;
        let returned = result.range.clone();
        let adapter = self.kind.adapter();
        let timeout = self.request_timeout;
        let stream_key = key.clone();
        let body = result
            .into_stream()
            .map_err(move |source| {
                Error::from(StoreError {
                    operation: "get",
                    key: Some(stream_key.clone()),
                    adapter,
                    timeout,
                    source,
                })
            })
            .boxed();
        Ok(GetResult {
            meta,
            range: returned,
            body,
        })
    }

    async fn exists(&self, key: &ObjectKey) -> Result<bool> {
        match self.head_inner(key).await {
            Ok(_) => Ok(true),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn head_inner(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let path = self.path(key)?;
        if self.is_local() {
            let meta = self
                .store
                .head(&path)
                .await
                .map_err(|error| self.fail("head", Some(key), error))?;
            return self.to_meta(key, &meta, None).await;
        }
        // A HEAD through `get_opts` carries the attributes; `head` drops them.
        let head = object_store::GetOptions {
            head: true,
            ..Default::default()
        };
        let result = match self.store.get_opts(&path, head).await {
            Ok(result) => result,
            Err(error @ object_store::Error::PermissionDenied { .. }) => {
                // A HEAD answer has no body, so no error code: ask again with a GET
                // (its body is never read) to tell bad credentials from denied access.
                return Err(match self.store.get(&path).await {
                    Err(detailed) => self.fail("head", Some(key), detailed),
                    Ok(_) => self.fail("head", Some(key), error),
                });
            }
            Err(error) => return Err(self.fail("head", Some(key), error)),
        };
        self.to_meta(key, &result.meta, Some(&result.attributes))
            .await
    }

    /// The port's view of an object: attributes from the response (remote) or the
    /// sidecar (local).
    async fn to_meta(
        &self,
        key: &ObjectKey,
        meta: &object_store::ObjectMeta,
        attributes: Option<&Attributes>,
    ) -> Result<ObjectMeta> {
        let sidecar = if self.is_local() {
            sidecar::read(self.store.as_ref(), key)
                .await
                .map_err(|error| self.fail("head", Some(key), error))?
        } else {
            attributes
                .map(|a| from_attributes(a, self.kind))
                .unwrap_or_default()
        };
        Ok(ObjectMeta {
            key: key.clone(),
            size: meta.size,
            content_type: sidecar.content_type,
            etag: meta.e_tag.clone(),
            last_modified: meta.last_modified,
            metadata: sidecar.metadata,
            public: sidecar.public,
        })
    }

    async fn delete_inner(&self, key: &ObjectKey) -> Result<()> {
        let path = self.path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(self.fail("delete", Some(key), error)),
        }
        if self.is_local() {
            sidecar::remove(self.store.as_ref(), key)
                .await
                .map_err(|error| self.fail("delete", Some(key), error))?;
        }
        Ok(())
    }

    async fn list_inner(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let request = list::PageRequest {
            options: &options,
            sorted: !self.is_local(),
            hide_sidecars: self.is_local(),
        };
        let page = list::page(self.store.as_ref(), request)
            .await
            .map_err(|error| match error {
                list::PageError::Port(error) => error,
                list::PageError::Store(error) => self.fail("list", None, error),
            })?;
        let objects = page
            .objects
            .into_iter()
            .map(|(key, meta)| ObjectMeta {
                key,
                size: meta.size,
                content_type: None,
                etag: meta.e_tag,
                last_modified: meta.last_modified,
                metadata: BTreeMap::new(),
                public: false,
            })
            .collect();
        Ok(ListPage {
            objects,
            next: page.next,
        })
    }

    async fn copy_inner(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        let from_path = self.path(from)?;
        let to_path = self.path(to)?;
        if from == to {
            // S3 refuses a copy onto itself; the contract only needs `from` to exist.
            return self.head_inner(from).await.map(drop);
        }
        self.store
            .copy(&from_path, &to_path)
            .await
            .map_err(|error| self.fail("copy", Some(from), error))?;
        if self.is_local() {
            let sidecar = sidecar::read(self.store.as_ref(), from)
                .await
                .map_err(|error| self.fail("copy", Some(from), error))?;
            sidecar::write(self.store.as_ref(), to, &sidecar)
                .await
                .map_err(|error| self.fail("copy", Some(to), error))?;
        }
        Ok(())
    }

    async fn signed_url_inner(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        validate_expiry(expires_in)?;
        let path = self.path(key)?;
        let Some(signer) = &self.signer else {
            return Err(Error::not_supported("signed_url", self.kind.adapter()));
        };
        let http_method = match method {
            SignedMethod::Get => object_store::signer::Method::GET,
            SignedMethod::Put => object_store::signer::Method::PUT,
        };
        let expires_at = Utc::now()
            + chrono::Duration::from_std(expires_in)
                .map_err(|_| Error::invalid("signed URL lifetime out of range"))?;
        let url = signer
            .signed_url(http_method, &path, expires_in)
            .await
            .map_err(|error| self.fail("signed_url", Some(key), error))?;
        Ok(SignedUrl {
            url: url.to_string(),
            method,
            expires_at,
        })
    }
}

#[async_trait]
impl ObjectStorage for ObjectStoreStorage {
    fn adapter(&self) -> &'static str {
        self.kind.adapter()
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.kind
            .metrics()
            .call("put", self.put_inner(key, body, options))
            .await
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        self.kind
            .metrics()
            .call("get", self.get_inner(key, options))
            .await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        self.kind.metrics().call("head", self.head_inner(key)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        self.kind
            .metrics()
            .call("delete", self.delete_inner(key))
            .await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.kind
            .metrics()
            .call("list", self.list_inner(options))
            .await
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        self.kind
            .metrics()
            .call("copy", self.copy_inner(from, to))
            .await
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        self.kind
            .metrics()
            .call("signed_url", self.signed_url_inner(method, key, expires_in))
            .await
    }
}

#[async_trait]
impl HealthCheck for ObjectStoreStorage {
    fn name(&self) -> &str {
        match self.kind {
            Kind::Local => "storage-object_store-local",
            Kind::S3 => "storage-object_store-s3",
            Kind::Gcs => "storage-object_store-gcs",
            Kind::Azure => "storage-object_store-azure",
        }
    }

    /// Lists the first object: the backend answers, accepts the credentials and has
    /// the bucket (or the local root is readable).
    async fn check(&self) -> Health {
        match self.store.list(None).next().await {
            None | Some(Ok(_)) => Health::up(),
            Some(Err(error)) => Health::down(self.fail("health", None, error).to_string()),
        }
    }
}

/// A multipart upload that is aborted when dropped unfinished (a cancelled `put`), so
/// no orphaned parts stay behind on the backend.
struct AbortOnDrop(Option<WriteMultipart>);

impl AbortOnDrop {
    async fn abort(&mut self) {
        if let Some(writer) = self.0.take()
            && let Err(error) = writer.abort().await
        {
            tracing::warn!(error.message = %error, "aborting a multipart upload failed");
        }
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(writer) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(error) = writer.abort().await {
                    tracing::warn!(error.message = %error, "aborting a cancelled multipart upload failed");
                }
            });
        }
    }
}

/// Whether a range can select no byte of any object (which `object_store` cannot send).
fn selects_nothing(range: ByteRange) -> bool {
    match range {
        ByteRange::Bounded {
            start,
            end_exclusive,
        } => start >= end_exclusive,
        ByteRange::Suffix { len } => len == 0,
        ByteRange::From { .. } => false,
    }
}

fn to_get_range(range: ByteRange) -> GetRange {
    match range {
        ByteRange::Bounded {
            start,
            end_exclusive,
        } => GetRange::Bounded(start..end_exclusive),
        ByteRange::From { start } => GetRange::Offset(start),
        ByteRange::Suffix { len } => GetRange::Suffix(len),
    }
}

/// Content type, metadata and `public` as remote-store attributes.
fn to_attributes(options: &PutOptions) -> Attributes {
    let mut attributes = Attributes::new();
    if let Some(content_type) = &options.content_type {
        attributes.insert(Attribute::ContentType, content_type.clone().into());
    }
    for (key, value) in &options.metadata {
        attributes.insert(
            Attribute::Metadata(key.clone().into()),
            value.clone().into(),
        );
    }
    if options.public {
        attributes.insert(
            Attribute::Metadata(PUBLIC_METADATA_KEY.into()),
            AttributeValue::from("true"),
        );
    }
    attributes
}

/// The inverse of [`to_attributes`].
fn from_attributes(attributes: &Attributes, kind: Kind) -> Sidecar {
    let mut sidecar = Sidecar::default();
    for (attribute, value) in attributes.iter() {
        match attribute {
            Attribute::ContentType => {
                let value = value.as_ref();
                if !(kind == Kind::S3 && value == S3_DEFAULT_CONTENT_TYPE) {
                    sidecar.content_type = Some(value.to_owned());
                }
            }
            Attribute::Metadata(name) if name.as_ref() == PUBLIC_METADATA_KEY => {
                sidecar.public = value.as_ref() == "true";
            }
            Attribute::Metadata(name) => {
                sidecar
                    .metadata
                    .insert(name.to_ascii_lowercase(), value.as_ref().to_owned());
            }
            _ => {}
        }
    }
    sidecar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let options = PutOptions {
            content_type: Some("application/pdf".into()),
            metadata: BTreeMap::from([("order-id".into(), "o-1".into())]),
            mode: PutMode::Overwrite,
            public: true,
        };
        let back = from_attributes(&to_attributes(&options), Kind::S3);
        assert_eq!(back.content_type.as_deref(), Some("application/pdf"));
        assert_eq!(back.metadata, options.metadata);
        assert!(back.public);
        let plain = from_attributes(&to_attributes(&PutOptions::default()), Kind::Gcs);
        assert_eq!(plain, Sidecar::default());
    }

    #[test]
    fn s3_default_content_type_reads_as_none() {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, S3_DEFAULT_CONTENT_TYPE.into());
        assert_eq!(from_attributes(&attributes, Kind::S3).content_type, None);
        assert_eq!(
            from_attributes(&attributes, Kind::Azure)
                .content_type
                .as_deref(),
            Some(S3_DEFAULT_CONTENT_TYPE)
        );
    }

    #[test]
    fn ranges_map_to_object_store_ranges() {
        assert_eq!(
            to_get_range(ByteRange::Bounded {
                start: 2,
                end_exclusive: 5
            }),
            GetRange::Bounded(2..5)
        );
        assert_eq!(
            to_get_range(ByteRange::From { start: 3 }),
            GetRange::Offset(3)
        );
        assert_eq!(
            to_get_range(ByteRange::Suffix { len: 4 }),
            GetRange::Suffix(4)
        );
        assert!(selects_nothing(ByteRange::Bounded {
            start: 3,
            end_exclusive: 3
        }));
        assert!(selects_nothing(ByteRange::Suffix { len: 0 }));
        assert!(!selects_nothing(ByteRange::From { start: 0 }));
    }
}
