//! Shared helpers: clocks at a given Unix time and header maps from pairs.

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use seam_core::{ManualClock, SecretString};
use seam_webhooks::VerifyError;

/// A manual clock reading `unix` seconds.
pub(crate) fn clock_at(unix: i64) -> ManualClock {
    ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(unix.try_into().unwrap()))
}

/// Headers from (name, value) pairs; values may be any bytes a client could send.
pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

pub(crate) fn secrets(values: &[&str]) -> Vec<SecretString> {
    values
        .iter()
        .map(|value| SecretString::from(*value))
        .collect()
}

/// Every rejection is a 4xx with the same public message.
pub(crate) fn assert_rejected(error: &VerifyError) {
    assert_eq!(error.public_message(), "invalid signature");
    assert!((400..500).contains(&error.http_status()), "{error}");
}

/// HMAC-SHA256 of the concatenated `parts`, computed here with `hmac` directly, as
/// each scheme's documentation describes, independently of the crate's own signer.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}
