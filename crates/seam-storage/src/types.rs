//! The requests and answers of [`ObjectStorage`](crate::ObjectStorage).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::body::ByteStream;
use crate::error::{Error, Result};
use crate::key::{ObjectKey, validate_prefix};

/// The most bytes of user metadata (keys plus values) an object may carry.
pub const MAX_METADATA_BYTES: usize = 2048;
/// The largest page [`ObjectStorage::list`](crate::ObjectStorage::list) returns.
pub const MAX_PAGE_SIZE: usize = 1000;
/// The shortest lifetime of a signed URL.
pub const MIN_SIGNED_URL_EXPIRY: Duration = Duration::from_secs(1);
/// The longest lifetime of a signed URL (the S3 SigV4 limit).
pub const MAX_SIGNED_URL_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What to do when the key exists already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PutMode {
    /// Replace the existing object.
    #[default]
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] when an object exists at the key.
    Create,
}

/// How to write an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// The MIME type served back with the object (`application/pdf`).
    pub content_type: Option<String>,
    /// User metadata: keys are lower-case ASCII letters, digits and `-`; values are
    /// printable ASCII; at most [`MAX_METADATA_BYTES`] in all.
    pub metadata: BTreeMap<String, String>,
    /// Overwrite, or create only.
    pub mode: PutMode,
    /// Whether the object may be served without a signature (through a CDN).
    pub public: bool,
}

impl PutOptions {
    /// Checks the content type and the metadata against the port's rules.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming what is wrong.
    pub fn validate(&self) -> Result<()> {
        if let Some(content_type) = &self.content_type {
            validate_content_type(content_type)?;
        }
        validate_metadata(&self.metadata)
    }
}

/// Checks a content type: non-empty printable ASCII, at most 255 bytes, with a `/`.
///
/// # Errors
///
/// [`Error::Invalid`] naming what is wrong.
pub fn validate_content_type(content_type: &str) -> Result<()> {
    let printable = content_type.bytes().all(|b| (0x20..0x7f).contains(&b));
    if content_type.is_empty()
        || content_type.len() > 255
        || !printable
        || !content_type.contains('/')
    {
        return Err(Error::invalid(format!(
            "content type {content_type:?} is not a printable type/subtype of at most 255 bytes"
        )));
    }
    Ok(())
}

/// Checks user metadata: keys are non-empty lower-case ASCII letters, digits and `-`;
/// values are printable ASCII; keys plus values take at most [`MAX_METADATA_BYTES`].
///
/// # Errors
///
/// [`Error::Invalid`] naming the offending entry.
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<()> {
    let mut total = 0usize;
    for (key, value) in metadata {
        let key_ok = !key.is_empty()
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !key_ok {
            return Err(Error::invalid(format!(
                "metadata key {key:?} must be lower-case ASCII letters, digits and '-'"
            )));
        }
        if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(Error::invalid(format!(
                "metadata value of {key:?} must be printable ASCII"
            )));
        }
        total += key.len() + value.len();
    }
    if total > MAX_METADATA_BYTES {
        return Err(Error::invalid(format!(
            "metadata takes {total} bytes, more than the {MAX_METADATA_BYTES} allowed"
        )));
    }
    Ok(())
}

/// What a write stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutResult {
    /// The backend's entity tag for the new content, when it has one.
    pub etag: Option<String>,
    /// The number of bytes stored.
    pub size: u64,
}

/// What is known about a stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Where it is.
    pub key: ObjectKey,
    /// Its size in bytes.
    pub size: u64,
    /// The MIME type it was written with.
    pub content_type: Option<String>,
    /// The backend's entity tag: changes whenever the content changes.
    pub etag: Option<String>,
    /// When it was last written.
    pub last_modified: DateTime<Utc>,
    /// The user metadata it was written with (listings may leave it empty where the
    /// backend does not return it; `head` and `get` carry it).
    pub metadata: BTreeMap<String, String>,
    /// Whether it was written as public.
    pub public: bool,
}

/// A part of an object to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteRange {
    /// Bytes `start..end_exclusive`; the end is clipped to the object's size.
    Bounded {
        /// The first byte.
        start: u64,
        /// One past the last byte.
        end_exclusive: u64,
    },
    /// Bytes from `start` to the end.
    From {
        /// The first byte.
        start: u64,
    },
    /// The last `len` bytes (all of them when the object is shorter).
    Suffix {
        /// How many bytes.
        len: u64,
    },
}

impl ByteRange {
    /// Parses a single HTTP range: `bytes=0-99`, `bytes=100-`, `bytes=-100`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for another unit, several ranges or a malformed range.
    pub fn parse_http(header: &str) -> Result<Self> {
        let invalid = || Error::invalid(format!("unsupported range {header:?}"));
        let spec = header
            .trim()
            .strip_prefix("bytes=")
            .ok_or_else(invalid)?
            .trim();
        if spec.contains(',') {
            return Err(Error::invalid(format!(
                "range {header:?} asks for several ranges; only one is supported"
            )));
        }
        let (first, last) = spec.split_once('-').ok_or_else(invalid)?;
        let number = |text: &str| -> Result<u64> {
            if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            text.parse().map_err(|_| invalid())
        };
        match (first.trim(), last.trim()) {
            ("", len) => Ok(Self::Suffix { len: number(len)? }),
            (start, "") => Ok(Self::From {
                start: number(start)?,
            }),
            (start, end) => {
                let (start, end) = (number(start)?, number(end)?);
                if end < start {
                    return Err(invalid());
                }
                Ok(Self::Bounded {
                    start,
                    end_exclusive: end.checked_add(1).ok_or_else(invalid)?,
                })
            }
        }
    }

    /// The bytes this range selects in an object of `size` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::RangeNotSatisfiable`] when it selects no byte: the start is at or past
    /// the end, the range is empty, or it is a suffix of an empty object.
    pub fn resolve(&self, size: u64) -> Result<Range<u64>> {
        let unsatisfiable = Error::RangeNotSatisfiable { size };
        match *self {
            Self::Bounded {
                start,
                end_exclusive,
            } => {
                if start >= end_exclusive || start >= size {
                    return Err(unsatisfiable);
                }
                Ok(start..end_exclusive.min(size))
            }
            Self::From { start } => {
                if start >= size {
                    return Err(unsatisfiable);
                }
                Ok(start..size)
            }
            Self::Suffix { len } => {
                if len == 0 || size == 0 {
                    return Err(unsatisfiable);
                }
                Ok(size.saturating_sub(len)..size)
            }
        }
    }
}

impl fmt::Display for ByteRange {
    /// The HTTP form (`bytes=0-99`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Bounded {
                start,
                end_exclusive,
            } => write!(f, "bytes={start}-{}", end_exclusive.saturating_sub(1)),
            Self::From { start } => write!(f, "bytes={start}-"),
            Self::Suffix { len } => write!(f, "bytes=-{len}"),
        }
    }
}

/// How to read an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    /// Only these bytes; the whole object when `None`.
    pub range: Option<ByteRange>,
}

/// An object being read.
pub struct GetResult {
    /// What is known about the object.
    pub meta: ObjectMeta,
    /// Which bytes `body` carries (`0..size` for a whole object).
    pub range: Range<u64>,
    /// The bytes, streamed.
    pub body: ByteStream,
}

impl fmt::Debug for GetResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetResult")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

/// Which objects to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    /// Only keys starting with this text (validated like a key, but may be empty or end
    /// with `/`; see [`validate_prefix`]).
    pub prefix: String,
    /// At most this many objects per page, `1..=1000` (default 1000).
    pub page_size: usize,
    /// Where to resume: the `next` of the previous page.
    pub continuation: Option<String>,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            page_size: MAX_PAGE_SIZE,
            continuation: None,
        }
    }
}

impl ListOptions {
    /// The first page of the objects under `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Checks the prefix and the page size.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] for a bad prefix, [`Error::Invalid`] for a page size out of
    /// `1..=1000` or an empty continuation token.
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.prefix)?;
        if !(1..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(Error::invalid(format!(
                "page size {} is outside 1..={MAX_PAGE_SIZE}",
                self.page_size
            )));
        }
        if self.continuation.as_deref() == Some("") {
            return Err(Error::invalid("empty continuation token"));
        }
        Ok(())
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPage {
    /// The objects, in lexicographic (byte) order of their keys.
    pub objects: Vec<ObjectMeta>,
    /// The token for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// What a signed URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SignedMethod {
    /// Download the object.
    Get,
    /// Upload the object.
    Put,
}

impl SignedMethod {
    /// The HTTP method.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
        }
    }
}

/// A URL that grants one operation on one object until it expires, without credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedUrl {
    /// The URL; its query carries the signature, so treat it as a secret.
    pub url: String,
    /// The HTTP method it is signed for.
    pub method: SignedMethod,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for SignedUrl {
    /// Leaves the query (the signature) out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = match self.url.split_once('?') {
            Some((base, _)) => format!("{base}?<redacted>"),
            None => self.url.clone(),
        };
        f.debug_struct("SignedUrl")
            .field("url", &shown)
            .field("method", &self.method)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Checks a signed URL's lifetime against `1s..=7 days`.
///
/// # Errors
///
/// [`Error::Invalid`] outside the bounds.
pub fn validate_expiry(expires_in: Duration) -> Result<()> {
    if !(MIN_SIGNED_URL_EXPIRY..=MAX_SIGNED_URL_EXPIRY).contains(&expires_in) {
        return Err(Error::invalid(format!(
            "signed URL lifetime {expires_in:?} is outside 1s..=7 days"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        let cases = [
            (
                "bytes=0-99",
                ByteRange::Bounded {
                    start: 0,
                    end_exclusive: 100,
                },
            ),
            ("bytes=100-", ByteRange::From { start: 100 }),
            ("bytes=-100", ByteRange::Suffix { len: 100 }),
        ];
        for (text, range) in cases {
            assert_eq!(ByteRange::parse_http(text).unwrap(), range);
            assert_eq!(range.to_string(), text);
        }
        for bad in [
            "",
            "bytes=",
            "bytes=-",
            "bytes=a-b",
            "items=0-1",
            "bytes=5-1",
            "bytes=0-1,3-4",
            "bytes=+1-2",
            "bytes=0-18446744073709551615",
        ] {
            assert!(ByteRange::parse_http(bad).is_err(), "{bad:?}");
        }
        let r = |t: &str| ByteRange::parse_http(t).unwrap();
        assert_eq!(r("bytes=0-99").resolve(10).unwrap(), 0..10);
        assert_eq!(r("bytes=2-4").resolve(10).unwrap(), 2..5);
        assert_eq!(r("bytes=7-").resolve(10).unwrap(), 7..10);
        assert_eq!(r("bytes=-3").resolve(10).unwrap(), 7..10);
        assert_eq!(r("bytes=-30").resolve(10).unwrap(), 0..10);
        for (range, size) in [
            ("bytes=10-", 10),
            ("bytes=10-20", 10),
            ("bytes=-0", 10),
            ("bytes=-1", 0),
            ("bytes=0-0", 0),
        ] {
            assert!(
                matches!(r(range).resolve(size), Err(Error::RangeNotSatisfiable { size: s }) if s == size),
                "{range} of {size}"
            );
        }
        let empty = ByteRange::Bounded {
            start: 3,
            end_exclusive: 3,
        };
        assert!(empty.resolve(10).is_err());
    }

    #[test]
    fn metadata_rules() {
        let meta = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        validate_metadata(&meta("order-id", "o-1 2/3")).unwrap();
        for (k, v) in [
            ("", "x"),
            ("Upper", "x"),
            ("under_score", "x"),
            ("k", "line\nbreak"),
            ("k", "é"),
        ] {
            assert!(
                matches!(validate_metadata(&meta(k, v)), Err(Error::Invalid(_))),
                "{k:?}={v:?}"
            );
        }
        validate_metadata(&meta("k", &"v".repeat(MAX_METADATA_BYTES - 1))).unwrap();
        assert!(validate_metadata(&meta("k", &"v".repeat(MAX_METADATA_BYTES))).is_err());
        let options = PutOptions {
            content_type: Some("text/plain\r\nX: y".into()),
            ..PutOptions::default()
        };
        assert!(options.validate().is_err());
        assert!(validate_content_type("text/plain; charset=utf-8").is_ok());
    }

    #[test]
    fn list_options_and_expiry() {
        ListOptions::default().validate().unwrap();
        let bad_size = ListOptions {
            page_size: 0,
            ..ListOptions::default()
        };
        assert!(matches!(bad_size.validate(), Err(Error::Invalid(_))));
        let big = ListOptions {
            page_size: 1001,
            ..ListOptions::default()
        };
        assert!(big.validate().is_err());
        assert!(matches!(
            ListOptions::prefix("../").validate(),
            Err(Error::InvalidKey { .. })
        ));
        validate_expiry(Duration::from_secs(1)).unwrap();
        validate_expiry(MAX_SIGNED_URL_EXPIRY).unwrap();
        assert!(validate_expiry(Duration::from_millis(999)).is_err());
        assert!(validate_expiry(MAX_SIGNED_URL_EXPIRY + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn signed_url_debug_hides_the_signature() {
        let url = SignedUrl {
            url: "https://s3.example/b/k?X-Amz-Signature=deadbeef".into(),
            method: SignedMethod::Get,
            expires_at: DateTime::<Utc>::UNIX_EPOCH,
        };
        let shown = format!("{url:?}");
        assert!(!shown.contains("deadbeef"), "{shown}");
        assert!(shown.contains("https://s3.example/b/k"));
    }
}
