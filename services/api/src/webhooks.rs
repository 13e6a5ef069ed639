//! Inbound webhooks: `POST /webhooks/{provider}` (stripe, github, standard, sendgrid) and
//! the event log, `GET /v1/webhook-events`.
//!
//! The request path does only what cannot wait: the body limit
//! (`webhooks.body_limit_bytes`, 413 above), a JSON content type (415 otherwise), the
//! signature over the raw bytes before anything parses them (the provider's 400/401 with
//! only "invalid signature"), then deduplication by event id and enqueueing in one atomic
//! step. A new event answers `202 {"status":"accepted"}`, a redelivery
//! `200 {"status":"duplicate"}`; the worker processes it from the `webhooks` queue.
//! A queue failure answers 503, so the provider retries later.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use seam_repository::{WebhookEvent, WebhookEventLog, WebhookEventQuery, WebhookEventStatus};
use seam_webhooks::{Accepted, Ingest, IngestError, ingest};
use serde::Deserialize;
use serde_json::json;

use crate::problem::Problem;

/// What the webhook handlers share.
#[derive(Debug, Clone)]
pub struct WebhookState {
    /// Verify, deduplicate, enqueue.
    pub ingest: Ingest,
    /// The worker's log of processed events.
    pub events: Arc<dyn WebhookEventLog>,
}

/// `POST /webhooks/{provider}`, limited to `body_limit` bytes. Not behind authentication:
/// the signature is the credential.
pub fn routes(state: WebhookState, body_limit: usize) -> Router {
    Router::new()
        .route("/webhooks/{provider}", post(receive))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// `GET /v1/webhook-events` (under the API's authentication).
pub fn event_routes(state: WebhookState) -> Router {
    Router::new()
        .route("/v1/webhook-events", get(list_events))
        .route("/v1/webhook-events/{provider}/{event_id}", get(get_event))
        .with_state(state)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
        .is_some_and(|media| {
            media.eq_ignore_ascii_case("application/json")
                || (media.len() > 5
                    && media[..media.len() - 5].contains('/')
                    && media.to_ascii_lowercase().ends_with("+json"))
        })
}

async fn receive(
    State(state): State<WebhookState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(provider) =
        ingest::provider_from_path(&provider).filter(|provider| state.ingest.accepts(*provider))
    else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            format!("no webhook endpoint for {provider:?}"),
        )
        .into_response();
    };
    if !is_json(&headers) {
        return Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "webhooks must be sent as application/json".to_owned(),
        )
        .into_response();
    }
    match state
        .ingest
        .ingest(provider, &headers, &body, Utc::now())
        .await
    {
        Ok(Accepted::New { .. }) => {
            (StatusCode::ACCEPTED, Json(json!({ "status": "accepted" }))).into_response()
        }
        Ok(Accepted::Duplicate { .. }) => {
            (StatusCode::OK, Json(json!({ "status": "duplicate" }))).into_response()
        }
        Err(IngestError::Rejected { provider, source }) => {
            let status = StatusCode::from_u16(provider.rejection_status())
                .unwrap_or(StatusCode::BAD_REQUEST);
            Problem::new(status, source.public_message().to_owned()).into_response()
        }
        Err(IngestError::NotConfigured(provider)) => Problem::new(
            StatusCode::NOT_FOUND,
            format!("no webhook endpoint for {provider}"),
        )
        .into_response(),
        Err(IngestError::Unreadable { message, .. }) => {
            Problem::new(StatusCode::BAD_REQUEST, message).into_response()
        }
        Err(error) => {
            tracing::error!(error.message = %error, error.cause_chain = ?error, "webhook not enqueued");
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the event could not be accepted; retry later".to_owned(),
            )
            .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
            response
        }
    }
}

/// The query of `GET /v1/webhook-events`.
#[derive(Debug, Deserialize)]
pub struct EventsQuery {
    /// `received`, `processed`, `failed`, `ignored` or `dead`.
    pub status: Option<String>,
    /// `stripe`, `github`, `standard_webhooks`, `sendgrid`.
    pub provider: Option<String>,
    /// 1..=100, default 50.
    pub limit: Option<usize>,
}

fn repository_problem(error: &seam_repository::Error) -> Problem {
    use seam_core::{Classify, ErrorKind};
    match error.kind() {
        ErrorKind::Invalid => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string()),
        ErrorKind::NotFound => Problem::new(StatusCode::NOT_FOUND, error.to_string()),
        _ => {
            tracing::error!(error.message = %error, error.cause_chain = ?error, "event log failed");
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, None)
        }
    }
}

async fn list_events(
    State(state): State<WebhookState>,
    Query(query): Query<EventsQuery>,
) -> Result<Json<Vec<WebhookEvent>>, Problem> {
    let status = query
        .status
        .as_deref()
        .map(str::parse::<WebhookEventStatus>)
        .transpose()
        .map_err(|error| repository_problem(&error))?;
    let query = WebhookEventQuery {
        status,
        provider: query.provider,
        limit: query.limit.unwrap_or(50),
    };
    state
        .events
        .list(&query)
        .await
        .map(Json)
        .map_err(|error| repository_problem(&error))
}

async fn get_event(
    State(state): State<WebhookState>,
    Path((provider, event_id)): Path<(String, String)>,
) -> Result<Json<WebhookEvent>, Problem> {
    state
        .events
        .get(&provider, &event_id)
        .await
        .map(Json)
        .map_err(|error| repository_problem(&error))
}
