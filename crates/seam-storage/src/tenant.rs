//! Tenant scoping: a decorator that confines one tenant to `tenants/{tenant}/`, so no
//! key, prefix or continuation token can reach another tenant's objects.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ObjectStorage;
use crate::body::ByteStream;
use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};
use crate::types::{
    GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutOptions, PutResult, SignedMethod,
    SignedUrl,
};

/// The root every tenant's objects live under.
pub const TENANTS_ROOT: &str = "tenants/";

/// A tenant's identifier: 1 to 64 ASCII letters, digits, `-` and `_`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Validates `id`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when `id` is empty, longer than 64 bytes or holds anything but
    /// ASCII letters, digits, `-` and `_`.
    pub fn parse(id: &str) -> Result<Self> {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(Error::invalid(format!(
                "tenant id {:?} must be 1 to 64 ASCII letters, digits, '-' or '_'",
                id.chars().take(80).collect::<String>()
            )));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TenantId({:?})", self.0)
    }
}

impl TryFrom<String> for TenantId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> Self {
        id.0
    }
}

/// One tenant's view of a shared [`ObjectStorage`]: every key lives under
/// `tenants/{tenant}/`, and the tenant sees its keys without that root.
///
/// - Keys are [`ObjectKey`]s, so `..`, absolute paths and encoded separators never get
///   here; a key such as `tenants/other/x` is simply `tenants/{tenant}/tenants/other/x`.
/// - List prefixes are validated and placed under the root; every listed key is checked
///   to lie under it (an inner adapter that answered otherwise is an [`Error::Backend`]).
/// - Continuation tokens carry the tenant and the prefix they were issued for; a token
///   from another tenant or another listing is [`Error::Invalid`].
/// - Errors name the tenant's key, not the stored one.
/// - Signed URLs are only issued for the tenant's own keys.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::sync::Arc;
///
/// use bytes::Bytes;
/// use seam_storage::{InMemoryStorage, ObjectKey, ObjectStorageExt, PutOptions};
/// use seam_storage::{TenantId, TenantStorage};
///
/// let shared = Arc::new(InMemoryStorage::new());
/// let acme = TenantStorage::new(shared.clone(), TenantId::parse("acme").unwrap());
/// let key = ObjectKey::parse("exports/orders.csv").unwrap();
/// acme.put_bytes(&key, Bytes::from("id,total"), PutOptions::default()).await.unwrap();
///
/// assert_eq!(shared.keys()[0].as_str(), "tenants/acme/exports/orders.csv");
/// assert_eq!(acme.list_all("exports/").await.unwrap()[0].key, key);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TenantStorage {
    inner: Arc<dyn ObjectStorage>,
    tenant: TenantId,
    root: String,
}

impl TenantStorage {
    /// `tenant`'s view of `inner`.
    pub fn new(inner: Arc<dyn ObjectStorage>, tenant: TenantId) -> Self {
        let root = format!("{TENANTS_ROOT}{tenant}/");
        Self {
            inner,
            tenant,
            root,
        }
    }

    /// The tenant.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// The stored key of the tenant's `key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when the stored key would be too long.
    pub fn scoped(&self, key: &ObjectKey) -> Result<ObjectKey> {
        ObjectKey::parse(&format!("{}{key}", self.root)).map_err(|error| match error {
            Error::InvalidKey { reason, .. } => Error::invalid_key(key.as_str(), reason),
            other => other,
        })
    }

    fn unscoped(&self, stored: &ObjectKey) -> Result<ObjectKey> {
        stored.strip_prefix(&self.root).ok_or_else(|| {
            Error::backend(
                self.inner.adapter(),
                "the storage answered with a key outside the tenant's root",
            )
        })
    }

    fn unscope_meta(&self, mut meta: ObjectMeta) -> Result<ObjectMeta> {
        meta.key = self.unscoped(&meta.key)?;
        Ok(meta)
    }

    /// Rewrites errors that name a stored key so they name the tenant's key.
    fn unscope_error(&self, error: Error) -> Error {
        match error {
            Error::NotFound { key } => match key.strip_prefix(&self.root) {
                Some(key) => Error::NotFound { key },
                None => Error::backend(self.inner.adapter(), "not found outside the tenant"),
            },
            Error::AlreadyExists { key } => match key.strip_prefix(&self.root) {
                Some(key) => Error::AlreadyExists { key },
                None => Error::backend(self.inner.adapter(), "conflict outside the tenant"),
            },
            other => other,
        }
    }

    fn encode_token(&self, prefix: &str, inner: &str) -> String {
        // Neither the tenant nor a prefix can hold a newline, so the first two fields split
        // cleanly; the inner token is the rest, whatever it holds.
        hex::encode(format!("{}\n{prefix}\n{inner}", self.tenant))
    }

    fn decode_token(&self, prefix: &str, token: &str) -> Result<String> {
        let foreign = || Error::invalid("continuation token was not issued for this listing");
        let bytes = hex::decode(token).map_err(|_| foreign())?;
        let text = String::from_utf8(bytes).map_err(|_| foreign())?;
        let mut parts = text.splitn(3, '\n');
        let (Some(tenant), Some(token_prefix), Some(inner)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(foreign());
        };
        if tenant != self.tenant.as_str() {
            return Err(Error::invalid(
                "continuation token was issued to another tenant",
            ));
        }
        if token_prefix != prefix || inner.is_empty() {
            return Err(foreign());
        }
        Ok(inner.to_owned())
    }
}

#[deny(clippy::missing_trait_methods)]
#[async_trait]
impl ObjectStorage for TenantStorage {
    fn adapter(&self) -> &'static str {
        self.inner.adapter()
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: ByteStream,
        options: PutOptions,
    ) -> Result<PutResult> {
        let stored = self.scoped(key)?;
        self.inner
            .put(&stored, body, options)
            .await
            .map_err(|error| self.unscope_error(error))
    }

    async fn get(&self, key: &ObjectKey, options: GetOptions) -> Result<GetResult> {
        let stored = self.scoped(key)?;
        let mut result = self
            .inner
            .get(&stored, options)
            .await
            .map_err(|error| self.unscope_error(error))?;
        result.meta = self.unscope_meta(result.meta)?;
        Ok(result)
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let stored = self.scoped(key)?;
        let meta = self
            .inner
            .head(&stored)
            .await
            .map_err(|error| self.unscope_error(error))?;
        self.unscope_meta(meta)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let stored = self.scoped(key)?;
        self.inner
            .delete(&stored)
            .await
            .map_err(|error| self.unscope_error(error))
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let continuation = options
            .continuation
            .as_deref()
            .map(|token| self.decode_token(&options.prefix, token))
            .transpose()?;
        let inner_prefix = format!("{}{}", self.root, options.prefix);
        validate_prefix(&inner_prefix)?;
        let page = self
            .inner
            .list(ListOptions {
                prefix: inner_prefix,
                page_size: options.page_size,
                continuation,
            })
            .await
            .map_err(|error| self.unscope_error(error))?;
        let objects = page
            .objects
            .into_iter()
            .map(|meta| self.unscope_meta(meta))
            .collect::<Result<Vec<_>>>()?;
        let next = page
            .next
            .map(|inner| self.encode_token(&options.prefix, &inner));
        Ok(ListPage { objects, next })
    }

    async fn copy(&self, from: &ObjectKey, to: &ObjectKey) -> Result<()> {
        let (from, to) = (self.scoped(from)?, self.scoped(to)?);
        self.inner
            .copy(&from, &to)
            .await
            .map_err(|error| self.unscope_error(error))
    }

    async fn signed_url(
        &self,
        method: SignedMethod,
        key: &ObjectKey,
        expires_in: Duration,
    ) -> Result<SignedUrl> {
        let stored = self.scoped(key)?;
        self.inner
            .signed_url(method, &stored, expires_in)
            .await
            .map_err(|error| self.unscope_error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids() {
        for ok in ["acme", "a", "Tenant_2-b", &"x".repeat(64)] {
            TenantId::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "a/b", "..", "a.b", "é", "a b", &"x".repeat(65), "a\n"] {
            assert!(
                matches!(TenantId::parse(bad), Err(Error::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
