//! The storage port: how Seam keeps files (invoices, uploads, exports) without knowing
//! which object store holds them.
//!
//! - [`ObjectStorage`]: `put`, `get`, `head`, `delete`, `list`, `copy` and `signed_url`,
//!   used as `Arc<dyn ObjectStorage>`; conveniences in [`ObjectStorageExt`].
//! - [`ObjectKey`]: a key that is safe by construction (no traversal, no control
//!   characters, no encoded separators), so every adapter gets the same rules.
//! - [`ByteStream`] and [`body`]: bodies are streams, so large objects never sit in
//!   memory whole.
//! - [`Error`]: one error enum, classified for retry policies ([`seam_core::Classify`]).
//! - [`memory::InMemoryStorage`]: an in-memory adapter that honours the contract; the fake
//!   for tests and the embedded default.
//! - Decorators that implement the same trait: [`tenant::TenantStorage`] (one tenant's
//!   confined view), [`mirror::MirroredStorage`] (a primary mirrored to a secondary, with
//!   [`mirror::verify`]), [`metered::MeteredStorage`] (request and byte counters).
//! - [`cdn::PublicUrls`]: CDN URLs for public objects, signed URLs for the rest.
//! - `conformance` (feature `conformance`): the suite every adapter's integration test runs.

pub mod body;
pub mod cdn;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod ext;
pub mod key;
pub mod memory;
pub mod metered;
pub mod mirror;
pub mod tenant;
pub mod types;

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use body::ByteStream;
pub use cdn::PublicUrls;
pub use error::{BoxError, Error, Result};
pub use ext::{LIST_ALL_LIMIT, ObjectStorageExt};
pub use key::{BAD_KEYS, MAX_KEY_BYTES, ObjectKey, validate_prefix};
pub use memory::InMemoryStorage;
pub use metered::MeteredStorage;
pub use mirror::{
    InMemoryMirrorQueue, MirrorMode, MirrorOp, MirrorQueue, MirroredStorage, VerifyReport,
};
pub use tenant::{TenantId, TenantStorage};
pub use types::{
    ByteRange, GetOptions, GetResult, ListOptions, ListPage, MAX_METADATA_BYTES, MAX_PAGE_SIZE,
    MAX_SIGNED_URL_EXPIRY, MIN_SIGNED_URL_EXPIRY, ObjectMeta, PutMode, PutOptions, PutResult,
    SignedMethod, SignedUrl, validate_content_type, validate_expiry, validate_metadata,
};

/// Stores objects: byte streams under [`ObjectKey`]s, with a content type and metadata.
///
/// # Contract
///
/// Keys are valid by construction ([`ObjectKey`]); adapters MUST NOT transform them
/// except by adding a fixed, configured root prefix.
///
/// - `put` MUST store the whole body or nothing: a failing body stream MUST leave any
///   previous object at the key unchanged and MUST return the stream's error. It MUST
///   validate [`PutOptions`] ([`PutOptions::validate`]) before reading the body and
///   return [`Error::Invalid`] for bad metadata or content type. With
///   [`PutMode::Create`] it MUST return [`Error::AlreadyExists`] when an object exists
///   at the key, and MUST NOT change that object. It MUST return the stored size.
/// - `get` MUST return the object's bytes exactly as written, with its [`ObjectMeta`]
///   (content type, metadata, `public`, size of the whole object). With a range it
///   MUST return only those bytes and set [`GetResult::range`]; a range selecting no
///   byte ([`ByteRange::resolve`]) MUST be [`Error::RangeNotSatisfiable`]. A missing
///   key MUST be [`Error::NotFound`].
/// - `head` MUST return the same [`ObjectMeta`] as `get`, or [`Error::NotFound`].
/// - `delete` MUST remove the object; deleting a missing key MUST succeed (deletes are
///   idempotent, so retries are safe).
/// - `list` MUST validate [`ListOptions`] ([`ListOptions::validate`]: a bad prefix is
///   [`Error::InvalidKey`], a page size outside `1..=1000` is [`Error::Invalid`]),
///   MUST return only keys starting with the prefix (whatever the continuation token
///   says), in lexicographic byte order, at most `page_size` per page, every object
///   exactly once across pages when nothing is written meanwhile, and `next: None` on
///   the last page. A token it cannot read MUST be [`Error::Invalid`].
/// - `copy` MUST copy content, content type, metadata and `public` to `to`
///   (overwriting), and MUST return [`Error::NotFound`] when `from` is missing.
/// - `signed_url` MUST refuse a lifetime outside `1s..=7 days` with [`Error::Invalid`]
///   ([`validate_expiry`]), and MUST return [`Error::NotSupported`] when the backend
///   has no HTTP endpoint to sign for. The URL MUST work with a plain HTTP client for
///   the given method and key only, until `expires_at`.
/// - Every operation MUST map backend failures to the right variant:
///   [`Error::Transient`] (connection failure, HTTP 5xx), [`Error::RateLimited`] (429,
///   `SlowDown`, with its `Retry-After`), [`Error::Timeout`], [`Error::Unauthorized`]
///   (401, bad credentials), [`Error::Forbidden`] (403), [`Error::Unavailable`] (no
///   such bucket, backend down), [`Error::Backend`] for anything else.
#[async_trait]
pub trait ObjectStorage: Debug + Send + Sync + 'static {
    /// The adapter's short name (`memory`, `s3`, `object_store`), for metrics and errors.
    fn adapter(&self) -> &'static str;

    /// Writes `body` at `key`.
    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult>;

    /// Reads the object at `key` (or a range of it) as a stream.
    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult>;

    /// What is known about the object at `key`, without its bytes.
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta>;

    /// Removes the object at `key`; a missing key is not an error.
    async fn delete(&self, key: &ObjectKey) -> Result<()>;

    /// One page of the objects whose keys start with `options.prefix`, in key order.
    async fn list(&self, options: ListOptions) -> Result<ListPage>;

    /// Copies the object at `from` to `to`, replacing whatever is at `to`.
    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()>;

    /// A URL granting `method` on `key` for `expires_in`, without credentials.
    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl>;
}

/// The port as a trait object: what services hold, as `Arc<DynObjectStorage>`.
pub type DynObjectStorage = dyn ObjectStorage;

macro_rules! forward_object_storage {
    ($($wrapper:ident),*) => {$(
        #[async_trait]
        impl<T: ObjectStorage + ?Sized> ObjectStorage for $wrapper<T> {
            fn adapter(&self) -> &'static str {
                (**self).adapter()
            }

            async fn put(
                &self,
                key: &ObjectKey,
                body: ByteStream,
                options: PutOptions,
            ) -> Result<PutResult> {
                (**self).put(key, body, options).await
            }

            async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
                (**self).get(key, options).await
            }

            async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
                (**self).head(key).await
            }

            async fn delete(&self, key: &ObjectKey) -> Result<()> {
                (**self).delete(key).await
            }

            async fn list(&self, options: ListOptions) -> Result<ListPage> {
                (**self).list(options).await
            }

            async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
                (**self).copy(from, to).await
            }

            async fn signed_url(
                &self,
                method: SignedMethod,
                key: &ObjectKey,
                expires_in: Duration,
            ) -> Result<SignedUrl> {
                (**self).signed_url(method, key, expires_in).await
            }
        }
    )*};
}

forward_object_storage!(Arc, Box);
