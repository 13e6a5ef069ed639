//! Reading JSON bodies with precise errors, keeping the raw bytes (for idempotency).

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Parses `body` as `T`: 415 without a JSON content type, 400 for malformed JSON, 422
/// naming the field for JSON of the wrong shape.
pub(crate) fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, Problem> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        });
    if !is_json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected a JSON body with `Content-Type: application/json`".to_owned(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                if path == "." || path.is_empty() {
                    inner.to_string()
                } else {
                    format!("{path}: {inner}")
                },
            ),
            _ => Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {inner}")),
        }
    })?;
    deserializer.end().map_err(|error| {
        Problem::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {error}"))
    })?;
    Ok(value)
}
