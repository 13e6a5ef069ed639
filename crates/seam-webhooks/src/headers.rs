//! Reading the headers a scheme needs, strictly: one value, visible ASCII, not empty.

use http::HeaderMap;

use crate::error::VerifyError;

/// The single value of header `name` (lower case), trimmed.
///
/// A header sent twice is refused rather than guessed at: which copy was signed
/// would be ambiguous.
pub(crate) fn required<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<&'a str, VerifyError> {
    optional(headers, name)?.ok_or(VerifyError::MissingHeader(name))
}

/// Like [`required`], but an absent header is `None`.
pub(crate) fn optional<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader(name));
    }
    let text = value
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader(name))?
        .trim();
    if text.is_empty() {
        return Err(VerifyError::MalformedHeader(name));
    }
    Ok(Some(text))
}

/// A Unix timestamp in seconds: ASCII digits only (no sign, no spaces, no exponent),
/// at most 12 of them, so that it always fits and never overflows later arithmetic.
pub(crate) fn unix_seconds(text: &str, name: &'static str) -> Result<i64, VerifyError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(VerifyError::MalformedHeader(name));
    }
    text.parse().map_err(|_| VerifyError::MalformedHeader(name))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn one_non_empty_value_is_required() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            required(&headers, "x-sig"),
            Err(VerifyError::MissingHeader("x-sig"))
        );
        headers.insert("x-sig", HeaderValue::from_static("  "));
        assert_eq!(
            required(&headers, "x-sig"),
            Err(VerifyError::MalformedHeader("x-sig"))
        );
        headers.insert("x-sig", HeaderValue::from_static(" abc "));
        assert_eq!(required(&headers, "x-sig"), Ok("abc"));
        headers.append("x-sig", HeaderValue::from_static("def"));
        assert_eq!(
            required(&headers, "x-sig"),
            Err(VerifyError::MalformedHeader("x-sig"))
        );
        let mut opaque = HeaderMap::new();
        opaque.insert("x-sig", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
        assert_eq!(
            required(&opaque, "x-sig"),
            Err(VerifyError::MalformedHeader("x-sig"))
        );
    }

    #[test]
    fn timestamps_are_plain_digits() {
        assert_eq!(unix_seconds("1764000000", "t"), Ok(1_764_000_000));
        for bad in ["", "-1", "+1", "1e9", "12a", " 1", "9999999999999", "١٢"] {
            assert!(unix_seconds(bad, "t").is_err(), "{bad:?}");
        }
    }
}
