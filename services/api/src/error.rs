//! One error type for every handler, mapped to a problem document by kind.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use seam_core::{Classify, ErrorKind};
use seam_orders::OrdersError;

use crate::problem::Problem;

/// A handler failed. Client mistakes become precise 4xx answers; everything else an
/// opaque 5xx whose cause is logged.
#[derive(Debug)]
pub enum ApiError {
    /// A problem already shaped for the client.
    Problem(Problem),
    /// A use case failed.
    Orders(OrdersError),
}

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl From<OrdersError> for ApiError {
    fn from(error: OrdersError) -> Self {
        Self::Orders(error)
    }
}

impl From<seam_domain::DomainError> for ApiError {
    fn from(error: seam_domain::DomainError) -> Self {
        Self::Orders(error.into())
    }
}

/// A 422 naming the field.
pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::Problem(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        message.into(),
    ))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let error = match self {
            Self::Problem(problem) => return problem.into_response(),
            Self::Orders(error) => error,
        };
        let kind = error.kind();
        let (status, detail) = match kind {
            ErrorKind::Invalid => (StatusCode::UNPROCESSABLE_ENTITY, Some(error.to_string())),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, Some(error.to_string())),
            ErrorKind::AlreadyExists | ErrorKind::Conflict => {
                (StatusCode::CONFLICT, Some(error.to_string()))
            }
            ErrorKind::Unavailable | ErrorKind::Transient | ErrorKind::RateLimited { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("a dependency is unavailable; try again shortly".to_owned()),
            ),
            ErrorKind::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                Some("a dependency did not answer in time".to_owned()),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, None),
        };
        if status.is_server_error() {
            tracing::error!(error.message = %error, error.kind = %kind, error.cause_chain = ?error, "request failed");
        }
        let mut response = Problem::new(status, detail).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let after = kind.retry_after().map_or(1, |after| after.as_secs().max(1));
            if let Ok(value) = HeaderValue::from_str(&after.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
