//! S3's failures, classified once and converted into the storage port's error here only.

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use seam_storage::{BoxError, Error, ObjectKey};

use crate::ADAPTER;

/// What went wrong calling S3, before it becomes the port's [`Error`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum S3Error {
    /// S3 answered with an error status.
    #[error("S3 {op} answered HTTP {status} {code}: {message}")]
    Service {
        op: &'static str,
        status: u16,
        /// S3's error code (`NoSuchKey`, `SlowDown`, ...); empty for bodiless answers (HEAD).
        code: String,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The call did not finish within the configured timeout.
    #[error("S3 {op} did not finish within {after:?}")]
    Timeout { op: &'static str, after: Duration },
    /// The request never got an answer: connection refused or reset, DNS, TLS.
    #[error("S3 {op}: cannot reach the server: {source}")]
    Dispatch {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    /// The answer could not be read or understood.
    #[error("S3 {op}: unreadable answer: {source}")]
    Response {
        op: &'static str,
        #[source]
        source: BoxError,
    },
    /// The request could not be built (a header value S3 cannot carry, ...).
    #[error("S3 {op}: the request cannot be built: {source}")]
    Construction {
        op: &'static str,
        #[source]
        source: BoxError,
    },
}

impl S3Error {
    /// Classifies an SDK failure of operation `op`; `timeout` is the configured limit
    /// reported when the SDK gave up waiting.
    pub(crate) fn from_sdk<E>(op: &'static str, timeout: Duration, error: SdkError<E>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let (code, message) = (
            error.code().unwrap_or_default().to_owned(),
            error.message().unwrap_or_default().to_owned(),
        );
        match error {
            SdkError::ServiceError(context) => {
                let raw = context.raw();
                let retry_after = raw
                    .headers()
                    .get("retry-after")
                    .and_then(|value| value.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                Self::Service {
                    op,
                    status: raw.status().as_u16(),
                    code,
                    message,
                    retry_after,
                }
            }
            SdkError::TimeoutError(_) => Self::Timeout { op, after: timeout },
            // A dispatch failure (connect refused or timed out, DNS, TLS) happened before
            // S3 saw the request, so it is transient even when it was a connect timeout.
            SdkError::DispatchFailure(failure) => Self::Dispatch {
                op,
                source: Box::new(SdkError::<E>::DispatchFailure(failure)),
            },
            SdkError::ResponseError(context) => Self::Response {
                op,
                source: Box::new(SdkError::<E>::ResponseError(context)),
            },
            other => Self::Construction {
                op,
                source: Box::new(other),
            },
        }
    }

    /// The HTTP status S3 answered, when it answered.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            Self::Service { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether S3 said there is no such object (or upload).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::Service { status: 404, .. })
            || matches!(self, Self::Service { code, .. } if is_not_found_code(code))
    }

    /// The port's error; `key` is the object the call was about, for `NotFound` and
    /// `AlreadyExists`.
    pub(crate) fn into_port(self, key: Option<&ObjectKey>) -> Error {
        let Self::Service {
            op,
            status,
            code,
            retry_after,
            ..
        } = &self
        else {
            return match self {
                Self::Timeout { after, .. } => Error::Timeout(after),
                Self::Dispatch { .. } | Self::Response { .. } => {
                    Error::transient_from(self.to_string(), self)
                }
                Self::Construction { .. } => Error::invalid(self.to_string()),
                Self::Service { .. } => unreachable!("matched above"),
            };
        };
        let (op, status, retry_after) = (*op, *status, *retry_after);
        match code.as_str() {
            // The server does not implement the operation (S3-compatible servers).
            "NotImplemented" => Error::not_supported(op, ADAPTER),
            code if is_not_found_code(code) => not_found(key, self),
            // The port's contract: a missing bucket is the backend being unusable.
            "NoSuchBucket" => {
                Error::unavailable(format!("the configured bucket does not exist ({self})"))
            }
            "PreconditionFailed" => match key {
                Some(key) => Error::already_exists(key),
                None => Error::backend_from(ADAPTER, "precondition failed", self),
            },
            "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "ExpiredToken"
            | "InvalidToken"
            | "TokenRefreshRequired"
            | "AuthorizationHeaderMalformed"
            | "MissingSecurityHeader"
            // s3s-based servers answer an unknown access key with NotSignedUp.
            | "NotSignedUp" => Error::Unauthorized(self.to_string()),
            "AccessDenied" | "AllAccessDisabled" | "AccountProblem" | "InvalidObjectState" => {
                Error::Forbidden(self.to_string())
            }
            "SlowDown" | "TooManyRequests" | "Throttling" | "ThrottlingException" => {
                Error::RateLimited { retry_after }
            }
            // A concurrent conditional write or a request S3 gave up waiting for: the
            // same call may succeed now.
            "ConditionalRequestConflict"
            | "RequestTimeout"
            | "OperationAborted"
            | "InternalError"
            | "ServiceUnavailable" => Error::transient_from(self.to_string(), self),
            _ => match status {
                404 => not_found(key, self),
                412 => match key {
                    Some(key) => Error::already_exists(key),
                    None => Error::backend_from(ADAPTER, "precondition failed", self),
                },
                401 => Error::Unauthorized(self.to_string()),
                403 => Error::Forbidden(self.to_string()),
                429 | 503 => Error::RateLimited { retry_after },
                408 | 500..=599 => Error::transient_from(self.to_string(), self),
                400 | 411 | 413 | 414 | 416 | 422 => Error::invalid(self.to_string()),
                _ => Error::backend_from(ADAPTER, self.to_string(), self),
            },
        }
    }
}

fn is_not_found_code(code: &str) -> bool {
    matches!(code, "NoSuchKey" | "NotFound" | "NoSuchUpload")
}

fn not_found(key: Option<&ObjectKey>, error: S3Error) -> Error {
    match key {
        Some(key) => Error::not_found(key),
        None => Error::backend_from(ADAPTER, error.to_string(), error),
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};

    use super::*;

    fn service(status: u16, code: &str) -> S3Error {
        S3Error::Service {
            op: "put",
            status,
            code: code.into(),
            message: "m".into(),
            retry_after: Some(Duration::from_secs(2)),
        }
    }

    #[test]
    fn codes_and_statuses_map_to_kinds() {
        let key = ObjectKey::parse("a/b").unwrap();
        let cases = [
            (service(404, "NoSuchKey"), ErrorKind::NotFound),
            (service(404, ""), ErrorKind::NotFound),
            (service(404, "NoSuchUpload"), ErrorKind::NotFound),
            (service(404, "NoSuchBucket"), ErrorKind::Unavailable),
            (service(412, "PreconditionFailed"), ErrorKind::AlreadyExists),
            (service(403, "AccessDenied"), ErrorKind::Forbidden),
            (service(403, ""), ErrorKind::Forbidden),
            (service(403, "InvalidAccessKeyId"), ErrorKind::Unauthorized),
            (
                service(403, "SignatureDoesNotMatch"),
                ErrorKind::Unauthorized,
            ),
            (service(400, "ExpiredToken"), ErrorKind::Unauthorized),
            (
                service(503, "SlowDown"),
                ErrorKind::RateLimited {
                    retry_after: Some(Duration::from_secs(2)),
                },
            ),
            (
                service(503, ""),
                ErrorKind::RateLimited {
                    retry_after: Some(Duration::from_secs(2)),
                },
            ),
            (service(500, "InternalError"), ErrorKind::Transient),
            (service(502, ""), ErrorKind::Transient),
            (
                service(409, "ConditionalRequestConflict"),
                ErrorKind::Transient,
            ),
            (service(400, "RequestTimeout"), ErrorKind::Transient),
            (service(400, "InvalidArgument"), ErrorKind::Invalid),
            (service(400, "InvalidStorageClass"), ErrorKind::Invalid),
            (service(405, "MethodNotAllowed"), ErrorKind::Permanent),
            (service(501, "NotImplemented"), ErrorKind::NotSupported),
            (
                S3Error::Timeout {
                    op: "get",
                    after: Duration::from_secs(1),
                },
                ErrorKind::Timeout,
            ),
            (
                S3Error::Dispatch {
                    op: "get",
                    source: "refused".into(),
                },
                ErrorKind::Transient,
            ),
            (
                S3Error::Construction {
                    op: "put",
                    source: "bad header".into(),
                },
                ErrorKind::Invalid,
            ),
        ];
        for (error, kind) in cases {
            let shown = error.to_string();
            assert_eq!(error.into_port(Some(&key)).kind(), kind, "{shown}");
        }
    }

    #[test]
    fn not_found_names_the_key() {
        let key = ObjectKey::parse("a/b").unwrap();
        let error = service(404, "NoSuchKey").into_port(Some(&key));
        assert!(matches!(error, Error::NotFound { key: k } if k == key));
    }
}
