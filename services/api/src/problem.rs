//! Errors as `application/problem+json` (RFC 9457).

use std::any::Any;

use axum::Json;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An RFC 9457 problem document. 4xx carry a safe, precise message; 5xx an opaque one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Problem {
    /// A problem with the standard title of `status`.
    pub fn new(status: StatusCode, detail: impl Into<Option<String>>) -> Self {
        Self {
            problem_type: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(self),
        )
            .into_response()
    }
}

pub(crate) async fn not_found(uri: Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!("no route for {}", uri.path()),
    )
}

pub(crate) async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this method is not allowed on this route".to_owned(),
    )
}

pub(crate) fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(non-string panic)");
    tracing::error!(panic.message = message, "request handler panicked");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR, None).into_response()
}

/// Rewrites error responses made by middleware or axum itself (413 from the body
/// limit, 408/503 from the timeout, ...) into problem documents, so every error a
/// client sees has the same shape. Responses that are problem documents already pass.
pub(crate) async fn problem_for_plain_errors(
    axum::extract::State(body_limit): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/problem+json"));
    if is_problem {
        return response;
    }
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => Some(format!(
            "the request body is larger than the limit of {body_limit} bytes"
        )),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => {
            Some("the request took too long; try again later".to_owned())
        }
        status if status.is_client_error() => None,
        _ => None,
    };
    let mut problem = Problem::new(status, detail).into_response();
    // Keep headers such as Retry-After and the request id.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

/// `axum::Json`, but every rejection is a precise problem document: 415 without a JSON
/// content type, 400 for malformed JSON, 422 for well-formed JSON of the wrong shape
/// (naming the field), 413 for a body over the limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        use axum::extract::rejection::JsonRejection;
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a JSON body with `Content-Type: application/json`".to_owned(),
            )),
            Err(JsonRejection::JsonSyntaxError(error)) => Err(Problem::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "malformed JSON: {}",
                    error
                        .body_text()
                        .trim_start_matches("Failed to parse the request body as JSON: ")
                ),
            )),
            Err(JsonRejection::JsonDataError(error)) => Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                error
                    .body_text()
                    .trim_start_matches(
                        "Failed to deserialize the JSON body into the target type: ",
                    )
                    .to_owned(),
            )),
            Err(JsonRejection::BytesRejection(error)) => {
                Err(Problem::new(error.status(), error.body_text()))
            }
            Err(other) => Err(Problem::new(other.status(), other.body_text())),
        }
    }
}
