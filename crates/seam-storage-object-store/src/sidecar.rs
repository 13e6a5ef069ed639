//! Content type, metadata and `public` of local files, which a file system cannot hold
//! (and `object_store`'s `LocalFileSystem` refuses): kept as JSON sidecar files under
//! [`SIDECAR_ROOT`] in the same directory tree, written with the same atomic writes.
//!
//! The object is written first and its sidecar second, so a crash in between leaves the
//! new content with the previous attributes; a sidecar without an object is ignored.
//! An object written without attributes has no sidecar.

use std::collections::BTreeMap;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use seam_storage::ObjectKey;
use serde::{Deserialize, Serialize};

/// The first key segment that holds the sidecars; keys under it are refused.
pub(crate) const SIDECAR_ROOT: &str = ".seam-meta";

/// What a sidecar holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sidecar {
    /// The object's content type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content_type: Option<String>,
    /// The object's user metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) metadata: BTreeMap<String, String>,
    /// Whether the object was written as public.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) public: bool,
}

impl Sidecar {
    fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Whether `key` lies in the sidecar tree.
pub(crate) fn is_reserved(key: &str) -> bool {
    key.split('/').next() == Some(SIDECAR_ROOT)
}

/// Where the sidecar of `key` lives. The `.json` suffix keeps the sidecars of `a` and
/// `a/b` apart (`a.json` is a file, `a/` a directory).
fn path_of(key: &ObjectKey) -> Result<Path, object_store::Error> {
    Ok(Path::parse(format!("{SIDECAR_ROOT}/{key}.json"))?)
}

/// The sidecar of `key`; the empty one when there is none.
pub(crate) async fn read(
    store: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<Sidecar, object_store::Error> {
    let bytes = match store.get(&path_of(key)?).await {
        Ok(result) => result.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(Sidecar::default()),
        Err(other) => return Err(other),
    };
    serde_json::from_slice(&bytes).map_err(|error| object_store::Error::Generic {
        store: "LocalFileSystem",
        source: format!("the metadata sidecar of {key} is not valid JSON: {error}").into(),
    })
}

/// Replaces the sidecar of `key` (removes it when `sidecar` is empty).
pub(crate) async fn write(
    store: &dyn ObjectStore,
    key: &ObjectKey,
    sidecar: &Sidecar,
) -> Result<(), object_store::Error> {
    if sidecar.is_empty() {
        return remove(store, key).await;
    }
    let json = serde_json::to_vec(sidecar).map_err(|error| object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(error),
    })?;
    store
        .put(&path_of(key)?, PutPayload::from(json))
        .await
        .map(drop)
}

/// Removes the sidecar of `key`, if any.
pub(crate) async fn remove(
    store: &dyn ObjectStore,
    key: &ObjectKey,
) -> Result<(), object_store::Error> {
    match store.delete(&path_of(key)?).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;

    use super::*;

    #[test]
    fn reserved_keys() {
        assert!(is_reserved(".seam-meta"));
        assert!(is_reserved(".seam-meta/a.json"));
        assert!(!is_reserved("a/.seam-meta"));
        assert!(!is_reserved(".seam-metadata/a"));
    }

    #[tokio::test]
    async fn round_trip_and_removal() {
        let store = InMemory::new();
        let key = ObjectKey::parse("a/b.txt").unwrap();
        assert_eq!(read(&store, &key).await.unwrap(), Sidecar::default());
        let sidecar = Sidecar {
            content_type: Some("text/plain".into()),
            metadata: BTreeMap::from([("order-id".into(), "o-1".into())]),
            public: true,
        };
        write(&store, &key, &sidecar).await.unwrap();
        assert_eq!(read(&store, &key).await.unwrap(), sidecar);
        write(&store, &key, &Sidecar::default()).await.unwrap();
        assert_eq!(read(&store, &key).await.unwrap(), Sidecar::default());
        remove(&store, &key).await.unwrap();
    }

    #[tokio::test]
    async fn a_corrupt_sidecar_is_an_error() {
        let store = InMemory::new();
        let key = ObjectKey::parse("a").unwrap();
        store
            .put(
                &Path::parse(".seam-meta/a.json").unwrap(),
                "{not json".into(),
            )
            .await
            .unwrap();
        let error = read(&store, &key).await.unwrap_err();
        assert!(error.to_string().contains("not valid JSON"), "{error}");
    }
}
