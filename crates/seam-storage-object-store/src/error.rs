//! Translating `object_store` failures into the storage port's [`Error`], in one place.
//!
//! `object_store` classifies 404, 409, 412, 401 and 403 itself; everything else is
//! `Generic`, wrapping either a transport error ([`HttpError`], whose kind is public) or
//! a private retry error whose message carries the HTTP status (`... status code: 503
//! Service Unavailable: ...`). The status and the S3 error code (`SlowDown`,
//! `NoSuchBucket`, `SignatureDoesNotMatch` ...) are read from that message: the crate
//! exposes no other way to them.

use std::error::Error as StdError;
use std::time::Duration;

use object_store::client::{HttpError, HttpErrorKind};
use seam_storage::{Error, ObjectKey};

/// S3 error codes that mean the credentials themselves were rejected (S3 answers 403,
/// not 401, for them).
const BAD_CREDENTIAL_CODES: [&str; 5] = [
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "NotSignedUp",
    "InvalidToken",
    "ExpiredToken",
];

/// A failure of one `object_store` call, with what is needed to translate it.
#[derive(Debug, thiserror::Error)]
#[error("{operation} failed: {source}")]
pub(crate) struct StoreError {
    /// The port operation (`put`, `get` ...).
    pub(crate) operation: &'static str,
    /// The key the operation was about, when there was one.
    pub(crate) key: Option<ObjectKey>,
    /// The adapter's name, for [`Error::Backend`] and [`Error::NotSupported`].
    pub(crate) adapter: &'static str,
    /// The configured request timeout, reported in [`Error::Timeout`].
    pub(crate) timeout: Duration,
    /// What `object_store` said.
    #[source]
    pub(crate) source: object_store::Error,
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        let StoreError {
            operation,
            key,
            adapter,
            timeout,
            source,
        } = error;
        let text = chain_text(&source);
        let key_text = key.as_ref().map_or_else(String::new, |k| format!(" {k}"));
        if file_directory_clash(&source) {
            return Error::invalid(format!(
                "{operation}{key_text}: a file system cannot hold both a key and keys under it \
                 (`a` and `a/b`): one of them exists already"
            ));
        }
        match &source {
            object_store::Error::NotFound { .. } if text.contains("NoSuchBucket") => {
                Error::unavailable(format!("{operation}{key_text}: the bucket does not exist"))
            }
            object_store::Error::NotFound { .. } => match key {
                Some(key) => Error::not_found(&key),
                None => Error::unavailable(format!("{operation}: {text}")),
            },
            object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. } => match key {
                Some(key) => Error::already_exists(&key),
                None => Error::backend_from(adapter, operation, source),
            },
            object_store::Error::InvalidPath { .. } => Error::invalid_key(
                key.as_ref().map_or("", ObjectKey::as_str),
                "not accepted by the backend",
            ),
            object_store::Error::NotSupported { .. }
            | object_store::Error::NotImplemented { .. } => {
                Error::not_supported(operation, adapter)
            }
            object_store::Error::Unauthenticated { .. } => {
                Error::Unauthorized(format!("{operation}{key_text}: {}", short(&text)))
            }
            object_store::Error::PermissionDenied { .. } => {
                if BAD_CREDENTIAL_CODES.iter().any(|code| text.contains(code)) {
                    Error::Unauthorized(format!("{operation}{key_text}: {}", short(&text)))
                } else {
                    Error::Forbidden(format!("{operation}{key_text}: {}", short(&text)))
                }
            }
            object_store::Error::UnknownConfigurationKey { .. } => {
                Error::invalid(format!("{operation}: {text}"))
            }
            _ => classify_generic(operation, &key_text, adapter, timeout, &text, source),
        }
    }
}

/// `Generic` (and any future variant): a transport failure or an HTTP status.
fn classify_generic(
    operation: &'static str,
    key_text: &str,
    adapter: &'static str,
    timeout: Duration,
    text: &str,
    source: object_store::Error,
) -> Error {
    let message = format!("{operation}{key_text}: {}", short(text));
    if let Some(kind) = transport_kind(&source) {
        return match kind {
            HttpErrorKind::Timeout => Error::Timeout(timeout),
            HttpErrorKind::Connect
            | HttpErrorKind::Request
            | HttpErrorKind::Interrupted
            | HttpErrorKind::Decode => Error::transient_from(message, source),
            _ => Error::backend_from(adapter, message, source),
        };
    }
    if text.contains("NoSuchBucket") {
        return Error::unavailable(format!("{operation}{key_text}: the bucket does not exist"));
    }
    match http_status(text) {
        Some(429) => Error::RateLimited { retry_after: None },
        Some(403) if BAD_CREDENTIAL_CODES.iter().any(|code| text.contains(code)) => {
            Error::Unauthorized(message)
        }
        Some(404) => Error::unavailable(message),
        Some(503) if text.contains("SlowDown") => Error::RateLimited { retry_after: None },
        Some(401) => Error::Unauthorized(message),
        Some(403) => Error::Forbidden(message),
        Some(408) => Error::Timeout(timeout),
        Some(status) if status >= 500 => Error::transient_from(message, source),
        Some(400 | 411 | 413 | 414 | 431) => Error::invalid(message),
        _ if text.contains("SlowDown") => Error::RateLimited { retry_after: None },
        _ => Error::backend_from(adapter, message, source),
    }
}

/// The kind of the first [`HttpError`] in the source chain: a failure before any
/// HTTP answer (connect, reset, timeout) or while reading the body.
fn transport_kind(error: &object_store::Error) -> Option<HttpErrorKind> {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(http) = error.downcast_ref::<HttpError>() {
            return Some(http.kind());
        }
        current = error.source();
    }
    None
}

/// Whether a local write failed because a file stands where a directory must go, or
/// the reverse (`a` and `a/b` on a file system).
fn file_directory_clash(error: &object_store::Error) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::IsADirectory | std::io::ErrorKind::NotADirectory
            )
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// The HTTP status in an `object_store` message ("... status code: 503 Service ...").
pub(crate) fn http_status(text: &str) -> Option<u16> {
    const MARKER: &str = "status code: ";
    let at = text.find(MARKER)? + MARKER.len();
    let digits = text.get(at..at + 3)?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// The whole source chain as one line, each cause once.
pub(crate) fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut current = error.source();
    while let Some(cause) = current {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        current = cause.source();
    }
    text
}

/// A message short enough for an error string (bodies of S3 errors can be long XML).
fn short(text: &str) -> String {
    const MAX: usize = 400;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut shortened: String = text.chars().take(MAX).collect();
    shortened.push_str("...");
    shortened
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    fn map(source: object_store::Error) -> Error {
        StoreError {
            operation: "get",
            key: Some(ObjectKey::parse("a/b.txt").unwrap()),
            adapter: "object_store-s3",
            timeout: Duration::from_secs(7),
            source,
        }
        .into()
    }

    fn generic(message: &str) -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: message.to_owned().into(),
        }
    }

    #[test]
    fn reads_the_status_from_the_message() {
        assert_eq!(
            http_status(
                "Error performing GET x - Server returned non-2xx status code: 503 Service Unavailable: <Code>SlowDown</Code>"
            ),
            Some(503)
        );
        assert_eq!(http_status("status code: abc"), None);
        assert_eq!(http_status("no status here"), None);
    }

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (
                "status code: 503 Service Unavailable: <Code>SlowDown</Code>",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (
                "status code: 429 Too Many Requests",
                ErrorKind::RateLimited { retry_after: None },
            ),
            (
                "status code: 500 Internal Server Error",
                ErrorKind::Transient,
            ),
            ("status code: 502 Bad Gateway", ErrorKind::Transient),
            ("status code: 503 Service Unavailable", ErrorKind::Transient),
            ("status code: 400 Bad Request", ErrorKind::Invalid),
            ("status code: 408 Request Timeout", ErrorKind::Timeout),
            ("status code: 418 I'm a teapot", ErrorKind::Permanent),
            ("something odd", ErrorKind::Permanent),
        ];
        for (message, kind) in cases {
            assert_eq!(map(generic(message)).kind(), kind, "{message}");
        }
    }

    #[test]
    fn object_store_variants_map_to_port_variants() {
        let boxed = |m: &str| -> Box<dyn StdError + Send + Sync> { m.to_owned().into() };
        let not_found = map(object_store::Error::NotFound {
            path: "a/b.txt".into(),
            source: boxed("404"),
        });
        assert!(matches!(not_found, Error::NotFound { ref key } if key.as_str() == "a/b.txt"));
        let no_bucket = map(object_store::Error::NotFound {
            path: "a/b.txt".into(),
            source: boxed("<Code>NoSuchBucket</Code>"),
        });
        assert_eq!(no_bucket.kind(), ErrorKind::Unavailable);
        let exists = map(object_store::Error::Precondition {
            path: "a/b.txt".into(),
            source: boxed("412"),
        });
        assert!(matches!(exists, Error::AlreadyExists { .. }));
        let bad_signature = map(object_store::Error::PermissionDenied {
            path: "a/b.txt".into(),
            source: boxed("<Code>SignatureDoesNotMatch</Code>"),
        });
        assert_eq!(bad_signature.kind(), ErrorKind::Unauthorized);
        let denied = map(object_store::Error::PermissionDenied {
            path: "a/b.txt".into(),
            source: boxed("<Code>AccessDenied</Code>"),
        });
        assert_eq!(denied.kind(), ErrorKind::Forbidden);
        let unauthenticated = map(object_store::Error::Unauthenticated {
            path: "a/b.txt".into(),
            source: boxed("401"),
        });
        assert_eq!(unauthenticated.kind(), ErrorKind::Unauthorized);
        let unsupported = map(object_store::Error::NotImplemented {
            operation: "x".into(),
            implementer: "y".into(),
        });
        assert!(matches!(
            unsupported,
            Error::NotSupported {
                operation: "get",
                adapter: "object_store-s3"
            }
        ));
    }

    #[test]
    fn transport_failures_are_transient_or_timeouts() {
        let connect = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Connect,
                std::io::Error::other("refused"),
            )),
        };
        assert_eq!(map(connect).kind(), ErrorKind::Transient);
        let timeout = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(
                HttpErrorKind::Timeout,
                std::io::Error::other("slow"),
            )),
        };
        assert!(matches!(map(timeout), Error::Timeout(d) if d == Duration::from_secs(7)));
    }

    #[test]
    fn long_messages_are_shortened() {
        let message = format!(
            "status code: 500 Internal Server Error: {}",
            "x".repeat(5000)
        );
        let error = map(generic(&message));
        assert!(error.to_string().len() < 600, "{}", error.to_string().len());
    }
}
