//! Public URLs for objects: through a CDN for public objects, signed otherwise.

use std::fmt::Write as _;
use std::time::Duration;

use crate::ObjectStorage;
use crate::error::{Error, Result};
use crate::key::ObjectKey;
use crate::types::{SignedMethod, validate_expiry};

/// How objects are addressed from outside: a CDN base for public objects and the
/// lifetime of the signed URLs handed out for the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrls {
    cdn_base: Option<String>,
    signed_ttl: Duration,
}

impl PublicUrls {
    /// Validates the CDN base (an `http`/`https` URL without query or fragment; a
    /// trailing `/` is added when missing) and the signed-URL lifetime (`1s..=7 days`).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming what is wrong.
    pub fn new(cdn_base: Option<&str>, signed_ttl: Duration) -> Result<Self> {
        validate_expiry(signed_ttl)?;
        let cdn_base = cdn_base.map(normalize_base).transpose()?;
        Ok(Self {
            cdn_base,
            signed_ttl,
        })
    }

    /// The CDN base, ending with `/`.
    pub fn cdn_base(&self) -> Option<&str> {
        self.cdn_base.as_deref()
    }

    /// The lifetime of signed URLs.
    pub fn signed_ttl(&self) -> Duration {
        self.signed_ttl
    }

    /// The URL to give out for `key`: the CDN URL when the object is `public` and a CDN
    /// is configured, else a signed `GET` URL from `storage`.
    ///
    /// # Errors
    ///
    /// Those of [`ObjectStorage::signed_url`] (such as [`Error::NotSupported`]).
    pub async fn url_for(
        &self,
        storage: &dyn ObjectStorage,
        key: &ObjectKey,
        public: bool,
    ) -> Result<String> {
        match (&self.cdn_base, public) {
            (Some(base), true) => Ok(cdn_url(base, key)),
            _ => Ok(storage
                .signed_url(SignedMethod::Get, key, self.signed_ttl)
                .await?
                .url),
        }
    }
}

fn normalize_base(base: &str) -> Result<String> {
    let invalid = |why: &str| Error::invalid(format!("CDN base URL {base:?} {why}"));
    let rest = base
        .strip_prefix("https://")
        .or_else(|| base.strip_prefix("http://"))
        .ok_or_else(|| invalid("must start with http:// or https://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(invalid("must name a host (and no credentials)"));
    }
    if base.contains(['?', '#']) {
        return Err(invalid("must not have a query or fragment"));
    }
    if base.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain whitespace or control characters"));
    }
    let mut base = base.trim_end_matches('/').to_owned();
    base.push('/');
    Ok(base)
}

/// `base` followed by the key, each segment percent-encoded (RFC 3986 unreserved
/// characters are kept; the `/` between segments stays).
fn cdn_url(base: &str, key: &ObjectKey) -> String {
    let mut url = String::with_capacity(base.len() + key.as_str().len() * 3);
    url.push_str(base);
    for (index, segment) in key.segments().enumerate() {
        if index > 0 {
            url.push('/');
        }
        for byte in segment.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
                url.push(char::from(byte));
            } else {
                // Writing to a String cannot fail.
                let _ = write!(url, "%{byte:02X}");
            }
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryStorage;

    fn key(text: &str) -> ObjectKey {
        ObjectKey::parse(text).unwrap()
    }

    #[test]
    fn bases_are_validated_and_normalized() {
        let hour = Duration::from_secs(3600);
        let urls = PublicUrls::new(Some("https://cdn.example.com/files"), hour).unwrap();
        assert_eq!(urls.cdn_base(), Some("https://cdn.example.com/files/"));
        let urls = PublicUrls::new(Some("http://127.0.0.1:8080//"), hour).unwrap();
        assert_eq!(urls.cdn_base(), Some("http://127.0.0.1:8080/"));
        for bad in [
            "ftp://cdn",
            "cdn.example.com",
            "https://",
            "https:///path",
            "https://user:pw@cdn",
            "https://cdn/?a=b",
            "https://cdn/#x",
            "https://cdn/a b",
        ] {
            assert!(
                matches!(PublicUrls::new(Some(bad), hour), Err(Error::Invalid(_))),
                "{bad}"
            );
        }
        assert!(PublicUrls::new(None, Duration::ZERO).is_err());
    }

    #[tokio::test]
    async fn public_objects_go_through_the_cdn_with_encoded_segments() {
        let urls =
            PublicUrls::new(Some("https://cdn.example.com"), Duration::from_secs(60)).unwrap();
        let storage = InMemoryStorage::new();
        let got = urls
            .url_for(&storage, &key("docs/été 2026/a+b?.pdf"), true)
            .await
            .unwrap();
        assert_eq!(
            got,
            "https://cdn.example.com/docs/%C3%A9t%C3%A9%202026/a%2Bb%3F.pdf"
        );
        let got = urls
            .url_for(&storage, &key("100%/x#y"), true)
            .await
            .unwrap();
        assert_eq!(got, "https://cdn.example.com/100%25/x%23y");
    }

    #[tokio::test]
    async fn private_objects_or_no_cdn_need_a_signed_url() {
        let storage = InMemoryStorage::new();
        let with_cdn =
            PublicUrls::new(Some("https://cdn.example.com"), Duration::from_secs(60)).unwrap();
        let without = PublicUrls::new(None, Duration::from_secs(60)).unwrap();
        // The memory adapter cannot sign, so the signed path shows as NotSupported.
        for (urls, public) in [(&with_cdn, false), (&without, true), (&without, false)] {
            assert!(matches!(
                urls.url_for(&storage, &key("a"), public).await,
                Err(Error::NotSupported { .. })
            ));
        }
    }
}
