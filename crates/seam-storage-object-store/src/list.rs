//! Pages of a listing, in key order, with opaque continuation tokens.
//!
//! `object_store` lists by *directory* prefix (`a/b` lists `a/b/...`, not `a/bc`) as an
//! unpaged stream; the port lists by *text* prefix in pages. So a page lists the
//! directory part of the prefix (up to its last `/`), keeps the keys that start with
//! the whole prefix, and resumes after the last key of the previous page
//! (`list_with_offset`, keys strictly greater).
//!
//! Remote stores (S3, GCS, Azure) list in lexicographic order, so a page reads the
//! stream only until it has one object more than it returns (or passes the prefix).
//! A local file system walks directories in no particular order: a page there reads
//! every file under the prefix's directory and sorts them, so it costs O(n log n) for
//! n files under that directory, per page. Keep local listings small, or use a prefix
//! that ends in a directory.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;
use seam_storage::{Error, ListOptions, ObjectKey};

use crate::sidecar;

/// Continuation tokens start with this, so a token from elsewhere is recognised.
const TOKEN_PREFIX: &str = "os1.";

/// The token resuming after `key`.
pub(crate) fn token_after(key: &ObjectKey) -> String {
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(key.as_str()))
}

/// The key a token resumes after.
///
/// # Errors
///
/// [`Error::Invalid`] when the token was not made by [`token_after`].
pub(crate) fn read_token(token: &str) -> Result<ObjectKey, Error> {
    let unreadable = || Error::invalid("unreadable list continuation token");
    let encoded = token.strip_prefix(TOKEN_PREFIX).ok_or_else(unreadable)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| unreadable())?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable())?;
    ObjectKey::parse(&text).map_err(|_| unreadable())
}

/// The directory part of a text prefix, as an `object_store` path (`None`: the root).
pub(crate) fn directory_of(prefix: &str) -> Result<Option<Path>, Error> {
    let Some((directory, _)) = prefix.rsplit_once('/') else {
        return Ok(None);
    };
    Path::parse(directory)
        .map(Some)
        .map_err(|_| Error::invalid_key(prefix, "not accepted by the backend"))
}

/// A path that sorts before `prefix` but after most keys that do: the prefix with its
/// last character decremented (`inv-` -> `inv,`). `None` when that is not simple.
fn offset_before(prefix: &str) -> Option<Path> {
    let last = prefix.chars().next_back()?;
    if !last.is_ascii_graphic() || last == '/' {
        return None;
    }
    let previous = char::from(u8::try_from(last).ok()? - 1);
    if !previous.is_ascii_graphic() || previous == '/' {
        return None;
    }
    let candidate = format!("{}{previous}", &prefix[..prefix.len() - 1]);
    Path::parse(&candidate)
        .ok()
        .filter(|path| path.as_ref() == candidate)
}

/// How to read one page.
pub(crate) struct PageRequest<'a> {
    /// The port's options, validated.
    pub(crate) options: &'a ListOptions,
    /// Whether the store lists in key order (every remote store does).
    pub(crate) sorted: bool,
    /// Whether to hide the sidecar tree (local stores).
    pub(crate) hide_sidecars: bool,
}

/// One page: at most `page_size` objects in key order, and whether more follow.
pub(crate) struct RawPage {
    /// The objects with their parsed keys.
    pub(crate) objects: Vec<(ObjectKey, object_store::ObjectMeta)>,
    /// The continuation token when more objects follow.
    pub(crate) next: Option<String>,
}

/// Reads one page.
pub(crate) async fn page(
    store: &dyn ObjectStore,
    request: PageRequest<'_>,
) -> Result<RawPage, PageError> {
    let options = request.options;
    let prefix = options.prefix.as_str();
    let after = options
        .continuation
        .as_deref()
        .map(read_token)
        .transpose()?;
    let directory = directory_of(prefix)?;
    let mut stream = match &after {
        // Keys sort after their prefix, so resuming before it would only read keys that
        // the filter below drops.
        Some(after) if after.as_str() >= prefix => {
            let offset = Path::parse(after.as_str())
                .map_err(|_| Error::invalid("unreadable list continuation token"))?;
            store.list_with_offset(directory.as_ref(), &offset)
        }
        // Start just before the prefix, so an ordered store skips what sorts before it.
        _ => match offset_before(prefix) {
            Some(offset) if request.sorted => store.list_with_offset(directory.as_ref(), &offset),
            _ => store.list(directory.as_ref()),
        },
    };
    let wanted = options.page_size + 1;
    let mut objects = Vec::with_capacity(if request.sorted { wanted } else { 0 });
    while let Some(meta) = stream.next().await {
        let meta = meta?;
        let raw = meta.location.as_ref();
        if !raw.starts_with(prefix) {
            if request.sorted && raw > prefix {
                break; // past every key with the prefix
            }
            continue;
        }
        if request.hide_sidecars && sidecar::is_reserved(raw) {
            continue;
        }
        if after.as_ref().is_some_and(|after| raw <= after.as_str()) {
            continue;
        }
        let Ok(key) = ObjectKey::parse(raw) else {
            tracing::warn!(
                key = raw,
                "skipping an object whose key the port cannot represent"
            );
            continue;
        };
        objects.push((key, meta));
        if request.sorted && objects.len() == wanted {
            break;
        }
    }
    drop(stream);
    if !request.sorted {
        objects.sort_unstable_by(|(a, _), (b, _)| a.as_str().cmp(b.as_str()));
    }
    let next = if objects.len() > options.page_size {
        objects.truncate(options.page_size);
        objects.last().map(|(key, _)| token_after(key))
    } else {
        None
    };
    Ok(RawPage { objects, next })
}

/// Why a page could not be read: the request, or the store.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The options or the token are wrong.
    Port(Error),
    /// The store failed.
    Store(object_store::Error),
}

impl From<Error> for PageError {
    fn from(error: Error) -> Self {
        Self::Port(error)
    }
}

impl From<object_store::Error> for PageError {
    fn from(error: object_store::Error) -> Self {
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::{ObjectStoreExt, PutPayload};

    use super::*;

    #[test]
    fn tokens_round_trip_and_strangers_are_refused() {
        let key = ObjectKey::parse("répertoire/fichier été.txt").unwrap();
        assert_eq!(read_token(&token_after(&key)).unwrap(), key);
        for bad in ["", "os1.", "os1.!!!", "a/b", "os2.YQ", "os1.Lw"] {
            assert!(matches!(read_token(bad), Err(Error::Invalid(_))), "{bad:?}");
        }
    }

    #[test]
    fn offsets_sort_just_before_the_prefix() {
        assert_eq!(offset_before("inv-").unwrap().as_ref(), "inv,");
        assert_eq!(offset_before("a/b").unwrap().as_ref(), "a/a");
        for none in ["", "a/", "0", "a/0", "é"] {
            assert!(offset_before(none).is_none(), "{none:?}");
        }
    }

    #[test]
    fn directory_of_a_text_prefix() {
        assert_eq!(directory_of("").unwrap(), None);
        assert_eq!(directory_of("inv-").unwrap(), None);
        assert_eq!(
            directory_of("invoices/2026/inv-").unwrap(),
            Some(Path::parse("invoices/2026").unwrap())
        );
        assert_eq!(
            directory_of("invoices/").unwrap(),
            Some(Path::parse("invoices").unwrap())
        );
    }

    async fn store_with(keys: &[&str]) -> InMemory {
        let store = InMemory::new();
        for key in keys {
            store
                .put(&Path::parse(key).unwrap(), PutPayload::from_static(b"x"))
                .await
                .unwrap();
        }
        store
    }

    async fn all_pages(
        store: &InMemory,
        prefix: &str,
        page_size: usize,
        sorted: bool,
    ) -> Vec<Vec<String>> {
        let mut options = ListOptions {
            prefix: prefix.into(),
            page_size,
            continuation: None,
        };
        let mut pages = Vec::new();
        for _ in 0..100 {
            let request = PageRequest {
                options: &options,
                sorted,
                hide_sidecars: true,
            };
            let Ok(page) = page(store, request).await else {
                panic!("page failed");
            };
            pages.push(page.objects.iter().map(|(k, _)| k.to_string()).collect());
            match page.next {
                Some(next) => options.continuation = Some(next),
                None => return pages,
            }
        }
        panic!("too many pages");
    }

    #[tokio::test]
    async fn pages_follow_key_order_within_a_text_prefix() {
        let store = store_with(&[
            "inv/a",
            "inv/b",
            "inv-1",
            "inv-2",
            "inv-3",
            "invoice",
            "other",
            ".seam-meta/inv-1.json",
        ])
        .await;
        for sorted in [true, false] {
            assert_eq!(
                all_pages(&store, "inv-", 2, sorted).await,
                [vec!["inv-1", "inv-2"], vec!["inv-3"]]
            );
            assert_eq!(
                all_pages(&store, "inv/", 1, sorted).await,
                [vec!["inv/a"], vec!["inv/b"]]
            );
            let everything: Vec<String> = all_pages(&store, "", 3, sorted).await.concat();
            assert_eq!(
                everything,
                [
                    "inv-1", "inv-2", "inv-3", "inv/a", "inv/b", "invoice", "other"
                ]
            );
        }
    }

    #[tokio::test]
    async fn a_token_from_another_prefix_stays_within_the_prefix() {
        let store = store_with(&["a/1", "b/1", "b/2", "c/1"]).await;
        let options = ListOptions {
            prefix: "b/".into(),
            page_size: 10,
            continuation: Some(token_after(&ObjectKey::parse("a/9").unwrap())),
        };
        let request = PageRequest {
            options: &options,
            sorted: true,
            hide_sidecars: false,
        };
        let Ok(result) = page(&store, request).await else {
            panic!("page failed");
        };
        let keys: Vec<_> = result.objects.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys, ["b/1", "b/2"]);
        assert!(result.next.is_none());
    }
}
