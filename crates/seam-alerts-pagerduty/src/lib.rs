//! PagerDuty adapter of the alerts port: the Events API v2 over `reqwest` (rustls).
//!
//! Each call is one `POST {base_url}/v2/enqueue` with a JSON event:
//!
//! ```json
//! {"routing_key": "…", "event_action": "trigger", "dedup_key": "breaker:payments",
//!  "payload": {"summary": "…", "source": "seam-api", "severity": "critical",
//!              "component": "payments", "custom_details": {…},
//!              "timestamp": "2026-01-02T03:00:00.000Z"}}
//! ```
//!
//! `acknowledge` and `resolve` send only `routing_key`, `event_action` and `dedup_key`.
//! `component`, `custom_details` (when empty) and `timestamp` are left out when the
//! alert has none. PagerDuty itself folds a trigger with an open dedup key into the
//! open incident, which is what the port's contract asks; every call is idempotent by
//! dedup key, so retries are safe.
//!
//! | answer | error |
//! | --- | --- |
//! | 2xx (PagerDuty answers 202) | none |
//! | 400, 413 | [`Error::Invalid`] with PagerDuty's message and errors |
//! | 401, 403 | [`Error::Unauthorized`] |
//! | 429 | [`Error::RateLimited`] with `Retry-After` |
//! | 408, 5xx, connection failure | [`Error::Transient`] |
//! | other 4xx | [`Error::Permanent`] |
//! | no answer within `timeout` | [`Error::Timeout`] |
//!
//! Calls are recorded as `seam_port_calls_total{port="alerts",adapter="pagerduty",op,outcome}`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{SecondsFormat, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use seam_alerts::{Alert, AlertService, Error, Result, validate_dedup_key};
use seam_core::{ExposeSecret, SecretString};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const METRICS: PortMetrics = PortMetrics::new("alerts", "pagerduty");

/// PagerDuty's Events API.
pub const DEFAULT_BASE_URL: &str = "https://events.pagerduty.com";
/// The Events API v2 endpoint, below the base URL.
pub const ENQUEUE_PATH: &str = "/v2/enqueue";
/// The length of an integration (routing) key.
pub const ROUTING_KEY_LEN: usize = 32;

/// How to reach PagerDuty.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagerDutyConfig {
    /// The integration key of an Events API v2 integration (32 characters).
    pub routing_key: SecretString,
    /// The Events API base URL: [`DEFAULT_BASE_URL`] (or the EU one,
    /// `https://events.eu.pagerduty.com`), or a local mock in tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Longest wait for one call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl PagerDutyConfig {
    /// PagerDuty's API with `routing_key` and a 10 s timeout.
    pub fn new(routing_key: SecretString) -> Self {
        Self {
            routing_key,
            base_url: default_base_url(),
            timeout: default_timeout(),
        }
    }

    /// Checks the configuration, naming every problem (never the key itself).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`]: a routing key that is not 32 letters and digits, a base URL
    /// that is not `http(s)://…`, plain `http` to a host that is not this machine, or a
    /// zero timeout.
    pub fn validate(&self) -> Result<()> {
        self.endpoint().map(drop)
    }

    fn endpoint(&self) -> Result<Url> {
        let mut problems = Vec::new();
        let key = self.routing_key.expose_secret();
        if key.len() != ROUTING_KEY_LEN || !key.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
            problems.push(format!(
                "`routing_key` must be the {ROUTING_KEY_LEN}-character integration key of an Events API v2 integration"
            ));
        }
        if self.timeout.is_zero() {
            problems.push("`timeout` must be more than 0".to_owned());
        }
        let endpoint = match Url::parse(&self.base_url) {
            Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {
                let loopback = matches!(url.host_str(), Some("localhost" | "[::1]" | "::1"))
                    || url.host_str().is_some_and(|host| host.starts_with("127."));
                if url.scheme() == "http" && !loopback {
                    problems.push(format!(
                        "`base_url` {} would send the routing key in clear: use https",
                        self.base_url
                    ));
                }
                let base = self.base_url.trim_end_matches('/');
                Url::parse(&format!("{base}{ENQUEUE_PATH}")).ok()
            }
            _ => {
                problems.push(format!(
                    "`base_url` {:?} must be an http(s) URL such as {DEFAULT_BASE_URL}",
                    self.base_url
                ));
                None
            }
        };
        match endpoint {
            Some(endpoint) if problems.is_empty() => Ok(endpoint),
            _ => Err(Error::invalid(format!(
                "PagerDuty configuration: {}",
                problems.join("; ")
            ))),
        }
    }

    /// Validates the configuration and builds the adapter.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate), or when the HTTP client cannot be built.
    pub fn build(self) -> Result<PagerDutyAlerts> {
        let endpoint = self.endpoint()?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("seam-alerts-pagerduty/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| Error::invalid(format!("PagerDuty HTTP client: {error}")))?;
        Ok(PagerDutyAlerts {
            client,
            endpoint,
            routing_key: self.routing_key,
            timeout: self.timeout,
        })
    }
}

/// An [`AlertService`] over PagerDuty's Events API v2; see the crate documentation.
#[derive(Debug)]
pub struct PagerDutyAlerts {
    client: reqwest::Client,
    endpoint: Url,
    routing_key: SecretString,
    timeout: Duration,
}

/// What went wrong calling PagerDuty, before it becomes the port's error.
#[derive(Debug, thiserror::Error)]
enum PagerDutyError {
    #[error("PagerDuty answered {status}: {message}")]
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("PagerDuty did not answer within {0:?}")]
    Timeout(Duration),
    #[error("calling PagerDuty: {0}")]
    Http(#[source] reqwest::Error),
}

impl From<PagerDutyError> for Error {
    fn from(error: PagerDutyError) -> Self {
        match &error {
            PagerDutyError::Timeout(wait) => Error::Timeout(*wait),
            PagerDutyError::Http(_) => Error::transient_from(error.to_string(), error),
            PagerDutyError::Status {
                status,
                retry_after,
                ..
            } => match status.as_u16() {
                429 => Error::RateLimited {
                    retry_after: *retry_after,
                },
                400 | 413 | 422 => Error::Invalid(error.to_string()),
                401 | 403 => Error::Unauthorized(error.to_string()),
                // 408 is the server giving up on a slow request: worth another try.
                408 => Error::transient(error.to_string()),
                400..=499 => Error::Permanent(error.to_string()),
                _ => Error::transient(error.to_string()),
            },
        }
    }
}

/// The `event_action` of an event.
#[derive(Debug, Clone, Copy)]
enum Action {
    Trigger,
    Acknowledge,
    Resolve,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Trigger => "trigger",
            Self::Acknowledge => "acknowledge",
            Self::Resolve => "resolve",
        }
    }
}

/// The `payload` of a trigger event for `alert`.
pub fn trigger_payload(alert: &Alert) -> Value {
    let mut payload = Map::new();
    payload.insert("summary".into(), Value::String(alert.summary.clone()));
    payload.insert("source".into(), Value::String(alert.source.clone()));
    payload.insert(
        "severity".into(),
        Value::String(alert.severity.as_str().to_owned()),
    );
    if let Some(component) = &alert.component {
        payload.insert("component".into(), Value::String(component.clone()));
    }
    if !alert.details.is_empty() {
        let details = alert
            .details
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        payload.insert("custom_details".into(), Value::Object(details));
    }
    if let Some(timestamp) = alert.timestamp {
        payload.insert(
            "timestamp".into(),
            Value::String(timestamp.to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
    }
    Value::Object(payload)
}

/// How long PagerDuty asked us to wait: `Retry-After` in seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// PagerDuty's error answer (`{"status", "message", "errors": [...]}`) as one line, or
/// the body as text when it is not that shape.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Answer {
        message: Option<String>,
        #[serde(default)]
        errors: Vec<String>,
    }
    match serde_json::from_str::<Answer>(body) {
        Ok(answer) if answer.message.is_some() || !answer.errors.is_empty() => {
            let mut parts: Vec<String> = answer.message.into_iter().collect();
            parts.extend(answer.errors);
            parts.join(": ")
        }
        _ => body.chars().take(500).collect(),
    }
}

impl PagerDutyAlerts {
    async fn send(&self, action: Action, dedup_key: &str, payload: Option<Value>) -> Result<()> {
        let mut event = Map::new();
        event.insert(
            "routing_key".into(),
            Value::String(self.routing_key.expose_secret().clone()),
        );
        event.insert("event_action".into(), Value::String(action.as_str().into()));
        event.insert("dedup_key".into(), Value::String(dedup_key.to_owned()));
        if let Some(payload) = payload {
            event.insert("payload".into(), payload);
        }
        let response = self
            .client
            .post(self.endpoint.clone())
            .json(&Value::Object(event))
            .send()
            .await
            .map_err(|error| self.http_error(error))?;
        let status = response.status();
        if status.is_success() {
            tracing::debug!(
                dedup_key,
                action = action.as_str(),
                "PagerDuty accepted the event"
            );
            return Ok(());
        }
        let retry_after = retry_after(response.headers());
        let text = response
            .text()
            .await
            .map_err(|error| self.http_error(error))?;
        Err(PagerDutyError::Status {
            status,
            message: error_message(&text),
            retry_after,
        }
        .into())
    }

    fn http_error(&self, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            PagerDutyError::Timeout(self.timeout).into()
        } else {
            // Without the URL: it is ours, and nothing else in the error is secret.
            PagerDutyError::Http(error.without_url()).into()
        }
    }
}

#[async_trait]
impl AlertService for PagerDutyAlerts {
    #[tracing::instrument(skip_all, fields(dedup_key = %alert.dedup_key, severity = %alert.severity))]
    async fn trigger(&self, alert: &Alert) -> Result<()> {
        METRICS
            .call("trigger", async {
                alert.validate()?;
                self.send(
                    Action::Trigger,
                    &alert.dedup_key,
                    Some(trigger_payload(alert)),
                )
                .await
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(dedup_key = %dedup_key))]
    async fn acknowledge(&self, dedup_key: &str) -> Result<()> {
        METRICS
            .call("acknowledge", async {
                validate_dedup_key(dedup_key)?;
                self.send(Action::Acknowledge, dedup_key, None).await
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(dedup_key = %dedup_key))]
    async fn resolve(&self, dedup_key: &str) -> Result<()> {
        METRICS
            .call("resolve", async {
                validate_dedup_key(dedup_key)?;
                self.send(Action::Resolve, dedup_key, None).await
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagerduty_error_answers_read_as_one_line() {
        assert_eq!(
            error_message(
                r#"{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}"#
            ),
            "Event object is invalid: 'payload.summary' is missing"
        );
        assert_eq!(error_message("gateway exploded"), "gateway exploded");
    }

    #[test]
    fn status_codes_map_to_the_ports_kinds() {
        use seam_core::{Classify, ErrorKind};
        let status = |code: u16, retry_after| -> ErrorKind {
            Error::from(PagerDutyError::Status {
                status: StatusCode::from_u16(code).unwrap(),
                message: String::new(),
                retry_after,
            })
            .kind()
        };
        let wait = Some(Duration::from_secs(2));
        assert_eq!(
            status(429, wait),
            ErrorKind::RateLimited { retry_after: wait }
        );
        assert_eq!(status(400, None), ErrorKind::Invalid);
        assert_eq!(status(413, None), ErrorKind::Invalid);
        assert_eq!(status(401, None), ErrorKind::Unauthorized);
        assert_eq!(status(403, None), ErrorKind::Unauthorized);
        assert_eq!(status(404, None), ErrorKind::Permanent);
        assert_eq!(status(408, None), ErrorKind::Transient);
        assert_eq!(status(500, None), ErrorKind::Transient);
        assert_eq!(status(503, None), ErrorKind::Transient);
    }
}
