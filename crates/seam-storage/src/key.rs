//! Object keys that are safe by construction: every adapter gets the same rules by
//! taking an [`ObjectKey`], so no backend ever sees a path-traversal attempt.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The longest key, in bytes of UTF-8 (the S3 limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// Percent-encodings that decode to a separator, a dot or a percent sign. Signed URLs,
/// CDNs and proxies decode them, so `a%2F..%2Fb` would become `a/../b` after the fact;
/// `%25` is refused because it smuggles them in twice (`%252e`).
const ENCODED_SEPARATORS: [&str; 4] = ["%2f", "%5c", "%2e", "%25"];

/// A validated object key: a `/`-separated path of non-empty segments.
///
/// The rules (each broken one is an [`Error::InvalidKey`] naming it):
///
/// - not empty, at most [`MAX_KEY_BYTES`] bytes;
/// - no leading or trailing `/`, no empty segment (`a//b`);
/// - no `.` or `..` segment;
/// - no backslash, no control character (`\0`, `\n`, DEL, C1 controls), no zero-width
///   or bidirectional formatting character (`U+200B`, `U+202E`, ...);
/// - no percent-encoded separator, dot or percent (`%2f`, `%5c`, `%2e`, `%25`,
///   any case), which a CDN or a signed-URL endpoint would decode.
///
/// ```
/// use seam_storage::ObjectKey;
///
/// let key = ObjectKey::parse("invoices/2026/inv-1.pdf").unwrap();
/// assert_eq!(key.as_str(), "invoices/2026/inv-1.pdf");
/// assert!(ObjectKey::parse("invoices/../secrets").is_err());
/// assert!(ObjectKey::parse("/etc/passwd").is_err());
/// assert!(ObjectKey::parse("a%2F..%2Fb").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ObjectKey(String);

impl ObjectKey {
    /// Validates `key`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] naming the first rule `key` breaks.
    pub fn parse(key: &str) -> Result<Self> {
        validate_key(key).map_err(|reason| Error::invalid_key(key, reason))?;
        Ok(Self(key.to_owned()))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key `self/child`, where `child` is one or more segments.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidKey`] when `child` breaks a rule or the result is too long.
    pub fn join(&self, child: &str) -> Result<Self> {
        if child.is_empty() {
            return Err(Error::invalid_key(child, "empty"));
        }
        // Validate the child on its own first, so the error names the caller's text.
        validate_key(child).map_err(|reason| Error::invalid_key(child, reason))?;
        Self::parse(&format!("{}/{child}", self.0))
    }

    /// The rest of the key after `prefix`, when the key starts with it and the rest is
    /// itself a valid key (so `a/b` minus `a/` is `b`, and `a/b` minus `a` is `None`).
    pub fn strip_prefix(&self, prefix: &str) -> Option<Self> {
        let rest = self.0.strip_prefix(prefix)?;
        validate_key(rest).ok()?;
        Some(Self(rest.to_owned()))
    }

    /// Whether the key's text starts with `prefix` (a plain text prefix, as listing uses).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The key as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectKey({:?})", self.0)
    }
}

// Sound because `Eq`, `Ord` and `Hash` are derived from the inner `String`.
impl std::borrow::Borrow<str> for ObjectKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for ObjectKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ObjectKey {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        validate_key(&value).map_err(|reason| Error::invalid_key(&value, reason))?;
        Ok(Self(value))
    }
}

impl TryFrom<&str> for ObjectKey {
    type Error = Error;

    fn try_from(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl std::str::FromStr for ObjectKey {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

impl From<ObjectKey> for String {
    fn from(key: ObjectKey) -> Self {
        key.0
    }
}

/// Validates a list prefix: empty (everything), or text that would be a valid key,
/// optionally ending with one `/` (`invoices/`, `invoices/2026/inv-`).
///
/// # Errors
///
/// [`Error::InvalidKey`] naming the rule the prefix breaks.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Ok(());
    }
    let body = prefix.strip_suffix('/').unwrap_or(prefix);
    if body.is_empty() {
        return Err(Error::invalid_key(prefix, "leading '/'"));
    }
    validate_key(body).map_err(|reason| Error::invalid_key(prefix, reason))
}

/// Zero-width and bidirectional controls: invisible in a file name, they make one name
/// look like another (`invoice\u{202e}fdp.exe` shows as `invoiceexe.pdf`).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

fn validate_key(key: &str) -> std::result::Result<(), &'static str> {
    if key.is_empty() {
        return Err("empty");
    }
    if key.len() > MAX_KEY_BYTES {
        return Err("longer than 1024 bytes");
    }
    if key.chars().any(char::is_control) {
        return Err("control character");
    }
    if key.chars().any(is_invisible_format) {
        return Err("invisible or bidirectional formatting character");
    }
    if key.contains('\\') {
        return Err("backslash");
    }
    if key.starts_with('/') {
        return Err("leading '/'");
    }
    if key.ends_with('/') {
        return Err("trailing '/'");
    }
    let lower = key.to_ascii_lowercase();
    if ENCODED_SEPARATORS.iter().any(|enc| lower.contains(enc)) {
        return Err("percent-encoded separator, dot or percent");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err("empty segment"),
            "." | ".." => return Err("'.' or '..' segment"),
            _ => {}
        }
    }
    Ok(())
}

/// Keys every adapter must refuse, for tests (the conformance suite uses them).
pub const BAD_KEYS: &[&str] = &[
    "",
    "/",
    "/absolute",
    "trailing/",
    "a//b",
    ".",
    "..",
    "../escape",
    "a/../b",
    "a/./b",
    "a/..",
    "back\\slash",
    "..\\windows",
    "nul\0byte",
    "new\nline",
    "carriage\rreturn",
    "tab\tkey",
    "del\u{7f}key",
    "c1\u{85}control",
    "invoice\u{202e}fdp.exe",
    "zero\u{200b}width",
    "%2e%2e/escape",
    "a/%2E%2E/b",
    "a%2fb",
    "a%2F..%2Fb",
    "a%5cb",
    "a%5C..",
    "double%252e%252e",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_keys_parse() {
        for key in [
            "a",
            "a/b/c.txt",
            "invoices/2026/inv-1.pdf",
            "..hidden",
            "a/...",
            "a.b/c..d",
            "répertoire/fichier été.txt",
            "100%/done",
            "with space/and+plus",
        ] {
            let parsed = ObjectKey::parse(key).unwrap_or_else(|e| panic!("{key:?}: {e}"));
            assert_eq!(parsed.as_str(), key);
            assert_eq!(parsed.to_string(), key);
        }
    }

    #[test]
    fn bad_keys_are_refused_with_a_reason() {
        for key in BAD_KEYS {
            match ObjectKey::parse(key) {
                Err(Error::InvalidKey { key: shown, reason }) => {
                    assert!(!reason.is_empty());
                    assert!(!shown.contains('\n') && !shown.contains('\0'), "{shown}");
                }
                other => panic!("{key:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn length_limit_is_in_bytes() {
        assert!(ObjectKey::parse(&"a".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(ObjectKey::parse(&"a".repeat(MAX_KEY_BYTES + 1)).is_err());
        // 'é' is two bytes in UTF-8.
        assert!(ObjectKey::parse(&"é".repeat(MAX_KEY_BYTES / 2 + 1)).is_err());
    }

    #[test]
    fn join_strip_and_starts_with() {
        let base = ObjectKey::parse("tenants/acme").unwrap();
        let joined = base.join("docs/a.txt").unwrap();
        assert_eq!(joined.as_str(), "tenants/acme/docs/a.txt");
        assert!(base.join("../other").is_err());
        assert!(base.join("/abs").is_err());
        assert!(base.join("").is_err());
        assert!(joined.starts_with("tenants/acme/"));
        assert_eq!(
            joined.strip_prefix("tenants/acme/").unwrap().as_str(),
            "docs/a.txt"
        );
        assert!(joined.strip_prefix("tenants/acme").is_none());
        assert!(joined.strip_prefix("tenants/other/").is_none());
        assert_eq!(joined.file_name(), "a.txt");
        assert_eq!(joined.segments().count(), 4);
    }

    #[test]
    fn prefixes() {
        for ok in ["", "a", "a/", "a/b", "a/b/", "inv-"] {
            validate_prefix(ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "/", "/a", "a//", "a//b/", "../", "a/../", "%2e%2e/", "a%2F", "a\\", "a\n/",
        ] {
            assert!(
                matches!(validate_prefix(bad), Err(Error::InvalidKey { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serde_validates() {
        let key: ObjectKey = serde_json_like("a/b");
        assert_eq!(key.as_str(), "a/b");
        assert!(ObjectKey::try_from("../x".to_owned()).is_err());
    }

    fn serde_json_like(text: &str) -> ObjectKey {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StringDeserializer};
        let de: StringDeserializer<DeError> = text.to_owned().into_deserializer();
        ObjectKey::deserialize(de).unwrap()
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        /// What a lenient server might do with a path: percent-decode it (twice), treat
        /// backslashes as separators, then resolve `.` and `..`.
        fn hostile_normalize(path: &str) -> String {
            let mut decoded = path.to_owned();
            for _ in 0..2 {
                let mut out = String::new();
                let mut rest = decoded.as_str();
                while let Some(at) = rest.find('%') {
                    out.push_str(&rest[..at]);
                    let code = rest
                        .get(at + 1..at + 3)
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    match code {
                        Some(byte) if byte.is_ascii() => {
                            out.push(char::from(byte));
                            rest = &rest[at + 3..];
                        }
                        _ => {
                            out.push('%');
                            rest = &rest[at + 1..];
                        }
                    }
                }
                out.push_str(rest);
                decoded = out;
            }
            let mut stack: Vec<&str> = Vec::new();
            for segment in decoded.split(['/', '\\']) {
                match segment {
                    "" | "." => {}
                    ".." => {
                        stack.pop();
                    }
                    other => stack.push(other),
                }
            }
            stack.join("/")
        }

        fn hostile_text() -> impl Strategy<Value = String> {
            proptest::string::string_regex("[a./\\\\%25eEfFc\\x00\\n\\x7f]{0,24}").unwrap()
        }

        proptest! {
            #[test]
            fn accepted_keys_keep_every_rule(text in prop_oneof![hostile_text(), any::<String>()]) {
                if let Ok(key) = ObjectKey::parse(&text) {
                    let lower = key.as_str().to_ascii_lowercase();
                    prop_assert!(!key.as_str().is_empty() && key.as_str().len() <= MAX_KEY_BYTES);
                    prop_assert!(!key.as_str().starts_with('/') && !key.as_str().ends_with('/'));
                    prop_assert!(key.segments().all(|s| !s.is_empty() && s != "." && s != ".."));
                    prop_assert!(!key.as_str().contains('\\'));
                    prop_assert!(!key.as_str().chars().any(char::is_control));
                    prop_assert!(!lower.contains("%2f") && !lower.contains("%2e") && !lower.contains("%5c"));
                }
            }

            #[test]
            fn a_scoped_key_never_leaves_its_root(text in prop_oneof![hostile_text(), any::<String>()]) {
                if let Ok(key) = ObjectKey::parse(&text) {
                    let root = ObjectKey::parse("tenants/acme").unwrap();
                    if let Ok(scoped) = root.join(key.as_str()) {
                        let normalized = hostile_normalize(scoped.as_str());
                        prop_assert!(
                            normalized.starts_with("tenants/acme/"),
                            "{} normalizes to {}", scoped, normalized
                        );
                    }
                }
            }

            #[test]
            fn prefixes_follow_the_key_rules(text in hostile_text()) {
                if validate_prefix(&text).is_ok() && !text.is_empty() {
                    let body = text.strip_suffix('/').unwrap_or(&text);
                    prop_assert!(ObjectKey::parse(body).is_ok());
                }
            }
        }
    }
}
