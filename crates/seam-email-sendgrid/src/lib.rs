//! SendGrid adapter of the e-mail port: `POST /v3/mail/send` over `reqwest` (rustls).
//!
//! The message becomes SendGrid's documented JSON: one personalization with `to`, `cc`
//! and `bcc` (duplicates dropped, as SendGrid refuses them), `from`, `reply_to`,
//! `subject`, `content` (`text/plain` before `text/html`, as SendGrid requires),
//! base64 `attachments` and custom `headers`. The API key travels as a Bearer token.
//! The message id is SendGrid's `X-Message-Id` response header, unless the message
//! carries a caller-chosen id ([`EmailMessage::message_id`]): then the receipt's id is
//! that id.
//!
//! SendGrid has no idempotency key, so this adapter does not deduplicate: every send is
//! delivered, even a second send with the same caller-chosen id. The id travels with
//! the message so receivers (and SendGrid's Event Webhook) can recognise it: in the
//! [`MESSAGE_ID_HEADER`] header and in `custom_args` as [`MESSAGE_ID_ARG`].
//!
//! | answer | error |
//! | --- | --- |
//! | 202 | none |
//! | 429 | [`Error::RateLimited`] with `Retry-After` (or `X-RateLimit-Reset`) |
//! | 5xx, connection failure | [`Error::Transient`] |
//! | 401, 403 | [`Error::Unauthorized`] |
//! | other 4xx | [`Error::Permanent`] with SendGrid's error messages |
//! | no answer within `timeout` | [`Error::Timeout`] |
//!
//! SendGrid reports delivery through its Event Webhook, not through this call, so
//! [`status`](EmailService::status) answers [`DeliveryStatus::Accepted`] for the ids
//! this process sent and [`Error::NotFound`] otherwise.
//!
//! SendGrid requires a `to` recipient in every personalization: a message with only
//! `cc`/`bcc` recipients is refused as [`Error::Invalid`] before any call.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use chrono::Utc;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use seam_core::{ExposeSecret, SecretString};
use seam_email::{
    DeliveryStatus, EmailMessage, EmailService, Error, Mailbox, MessageId, SendReceipt, SentLog,
};
use seam_telemetry::PortMetrics;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const METRICS: PortMetrics = PortMetrics::new("email", "sendgrid");

/// SendGrid's API.
pub const DEFAULT_BASE_URL: &str = "https://api.sendgrid.com";
/// The send endpoint, below the base URL.
pub const SEND_PATH: &str = "/v3/mail/send";

/// How to reach SendGrid.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendgridConfig {
    /// The API key (`SG.…`), sent as a Bearer token.
    pub api_key: SecretString,
    /// The API base URL: [`DEFAULT_BASE_URL`], or a local mock in tests.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Longest wait for one API call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl SendgridConfig {
    /// SendGrid's API with `api_key` and a 10 s timeout.
    pub fn new(api_key: SecretString) -> Self {
        Self {
            api_key,
            base_url: default_base_url(),
            timeout: default_timeout(),
        }
    }

    /// Checks the configuration, naming every problem.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`]: an empty API key, a base URL that is not `http(s)://…`, plain
    /// `http` to a host that is not this machine (the key would travel in clear), or a
    /// zero timeout.
    pub fn validate(&self) -> Result<(), Error> {
        self.endpoint().map(|_| ())
    }

    fn endpoint(&self) -> Result<Url, Error> {
        let mut problems = Vec::new();
        if self.api_key.expose_secret().trim().is_empty() {
            problems.push("`api_key` must not be empty".to_owned());
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
                        "`base_url` {} would send the API key in clear: use https",
                        self.base_url
                    ));
                }
                let base = self.base_url.trim_end_matches('/');
                Url::parse(&format!("{base}{SEND_PATH}")).ok()
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
                "SendGrid configuration: {}",
                problems.join("; ")
            ))),
        }
    }

    /// Validates the configuration and builds the adapter.
    ///
    /// # Errors
    ///
    /// As [`validate`](Self::validate), or when the HTTP client cannot be built.
    pub fn build(self) -> Result<SendgridEmail, Error> {
        let endpoint = self.endpoint()?;
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|error| Error::invalid(format!("SendGrid HTTP client: {error}")))?;
        Ok(SendgridEmail {
            client,
            endpoint,
            api_key: self.api_key,
            timeout: self.timeout,
            sent: SentLog::default(),
        })
    }
}

/// An [`EmailService`] over SendGrid's v3 API; see the crate documentation.
#[derive(Debug)]
pub struct SendgridEmail {
    client: reqwest::Client,
    endpoint: Url,
    api_key: SecretString,
    timeout: Duration,
    sent: SentLog,
}

/// What went wrong calling SendGrid, before it becomes the port's error.
#[derive(Debug, thiserror::Error)]
enum SendgridError {
    #[error("SendGrid answered {status}: {message}")]
    Status {
        status: StatusCode,
        message: String,
        retry_after: Option<Duration>,
    },
    #[error("SendGrid did not answer within {0:?}")]
    Timeout(Duration),
    #[error("calling SendGrid: {0}")]
    Http(#[source] reqwest::Error),
}

impl From<SendgridError> for Error {
    fn from(error: SendgridError) -> Self {
        match &error {
            SendgridError::Timeout(wait) => Error::Timeout(*wait),
            SendgridError::Http(_) => Error::transient_from(error.to_string(), error),
            SendgridError::Status {
                status,
                retry_after,
                ..
            } => match status.as_u16() {
                429 => Error::RateLimited {
                    retry_after: *retry_after,
                },
                401 | 403 => Error::Unauthorized(error.to_string()),
                // 408 is the server giving up on a slow request: worth another try.
                408 => Error::transient(error.to_string()),
                400..=499 => Error::permanent(error.to_string()),
                _ => Error::transient(error.to_string()),
            },
        }
    }
}

/// The custom header carrying a caller-chosen message id (SendGrid sets `Message-ID`).
pub const MESSAGE_ID_HEADER: &str = "X-Seam-Message-Id";
/// The `custom_args` key carrying a caller-chosen message id, echoed by SendGrid's
/// Event Webhook.
pub const MESSAGE_ID_ARG: &str = "seam_message_id";

/// SendGrid's JSON for `message`.
///
/// # Errors
///
/// [`Error::Invalid`] when the message has no `to` recipient (SendGrid requires one).
pub fn request_body(message: &EmailMessage) -> Result<Value, Error> {
    if message.to().is_empty() {
        return Err(Error::invalid(
            "SendGrid needs at least one `to` recipient (cc and bcc alone are refused)",
        ));
    }
    // SendGrid refuses an address that appears twice in a personalization: keep the
    // first place it appears, to before cc before bcc.
    let mut seen = std::collections::HashSet::new();
    let mut unique = |list: &[Mailbox]| -> Vec<Value> {
        list.iter()
            .filter(|mailbox| seen.insert(mailbox.address().as_str().to_ascii_lowercase()))
            .map(address)
            .collect()
    };
    let mut personalization = serde_json::Map::new();
    personalization.insert("to".into(), Value::Array(unique(message.to())));
    for (key, list) in [("cc", message.cc()), ("bcc", message.bcc())] {
        let list = unique(list);
        if !list.is_empty() {
            personalization.insert(key.into(), Value::Array(list));
        }
    }

    let mut body = serde_json::Map::new();
    body.insert(
        "personalizations".into(),
        Value::Array(vec![Value::Object(personalization)]),
    );
    body.insert("from".into(), address(message.from()));
    if let Some(reply_to) = message.reply_to() {
        body.insert("reply_to".into(), address(reply_to));
    }
    body.insert(
        "subject".into(),
        Value::String(message.subject().to_owned()),
    );
    let mut content = Vec::new();
    if let Some(text) = message.text() {
        content.push(json!({"type": "text/plain", "value": text}));
    }
    if let Some(html) = message.html() {
        content.push(json!({"type": "text/html", "value": html}));
    }
    body.insert("content".into(), Value::Array(content));
    if !message.attachments().is_empty() {
        let attachments = message
            .attachments()
            .iter()
            .map(|attachment| {
                json!({
                    "content": base64::engine::general_purpose::STANDARD.encode(attachment.data()),
                    "type": attachment.content_type(),
                    "filename": attachment.filename(),
                    "disposition": "attachment",
                })
            })
            .collect();
        body.insert("attachments".into(), Value::Array(attachments));
    }
    let mut headers: serde_json::Map<String, Value> = message
        .headers()
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
        .collect();
    if let Some(id) = message.message_id() {
        headers.insert(MESSAGE_ID_HEADER.into(), Value::String(id.to_string()));
        let mut custom_args = serde_json::Map::new();
        custom_args.insert(MESSAGE_ID_ARG.into(), Value::String(id.to_string()));
        body.insert("custom_args".into(), Value::Object(custom_args));
    }
    if !headers.is_empty() {
        body.insert("headers".into(), Value::Object(headers));
    }
    Ok(Value::Object(body))
}

fn address(mailbox: &Mailbox) -> Value {
    match mailbox.name() {
        Some(name) => json!({"email": mailbox.address().as_str(), "name": name}),
        None => json!({"email": mailbox.address().as_str()}),
    }
}

/// How long SendGrid asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (a Unix time), SendGrid's own header.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(value) = text(RETRY_AFTER.as_str()) {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        if let Ok(at) = chrono::DateTime::parse_from_rfc2822(value) {
            return (at.with_timezone(&Utc) - Utc::now()).to_std().ok();
        }
    }
    let reset = text("x-ratelimit-reset")?.trim().parse::<i64>().ok()?;
    let at = chrono::DateTime::from_timestamp(reset, 0)?;
    (at - Utc::now()).to_std().ok()
}

/// SendGrid's error messages (`{"errors": [{"message": …, "field": …}]}`), or the
/// body as text when it is not that shape.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        message: Option<String>,
        field: Option<String>,
    }
    match serde_json::from_str::<Errors>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed
            .errors
            .into_iter()
            .map(|entry| match (entry.field, entry.message) {
                (Some(field), Some(message)) => format!("{field}: {message}"),
                (None, Some(message)) => message,
                (Some(field), None) => field,
                (None, None) => "unknown error".to_owned(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body.chars().take(500).collect(),
    }
}

impl SendgridEmail {
    async fn post(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        let body = request_body(message)?;
        let response = self
            .client
            .post(self.endpoint.clone())
            .bearer_auth(self.api_key.expose_secret())
            .json(&body)
            .send()
            .await
            .map_err(|error| self.http_error(error))?;
        let status = response.status();
        if status.is_success() {
            let upstream_id = response
                .headers()
                .get("x-message-id")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| MessageId::new(value.trim()).ok())
                .unwrap_or_else(|| {
                    tracing::warn!("SendGrid accepted a message without an X-Message-Id");
                    MessageId::generate()
                });
            let id = match message.message_id() {
                Some(id) => {
                    tracing::debug!(message_id = %id, sendgrid_id = %upstream_id, "SendGrid id of a caller-chosen id");
                    id.clone()
                }
                None => upstream_id,
            };
            self.sent.accepted(id.clone());
            tracing::debug!(message_id = %id, "SendGrid accepted the message");
            return Ok(SendReceipt {
                message_id: id,
                accepted_at: Utc::now(),
            });
        }
        let retry_after = retry_after(response.headers());
        let text = response
            .text()
            .await
            .map_err(|error| self.http_error(error))?;
        Err(SendgridError::Status {
            status,
            message: error_message(&text),
            retry_after,
        }
        .into())
    }

    fn http_error(&self, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            SendgridError::Timeout(self.timeout).into()
        } else {
            SendgridError::Http(error).into()
        }
    }
}

#[async_trait]
impl EmailService for SendgridEmail {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt, Error> {
        METRICS.call("send", self.post(message)).await
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus, Error> {
        METRICS.call("status", async { self.sent.status(id) }).await
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn key(text: &str) -> SecretString {
        text.parse().unwrap()
    }

    #[test]
    fn a_caller_chosen_id_travels_in_a_header_and_custom_args() {
        let builder = || {
            EmailMessage::builder()
                .from(seam_domain::EmailAddress::parse("shop@example.com").unwrap())
                .to(seam_domain::EmailAddress::parse("ada@example.com").unwrap())
                .subject("Hi")
                .text("Hello")
        };
        let plain = request_body(&builder().build().unwrap()).unwrap();
        assert!(plain.get("custom_args").is_none());
        assert!(plain.get("headers").is_none());
        let id = MessageId::new("order-1-confirmed").unwrap();
        let body = request_body(&builder().message_id(id).build().unwrap()).unwrap();
        assert_eq!(body["headers"][MESSAGE_ID_HEADER], "order-1-confirmed");
        assert_eq!(body["custom_args"][MESSAGE_ID_ARG], "order-1-confirmed");
    }

    #[test]
    fn configuration_problems_are_named() {
        let config = SendgridConfig {
            api_key: key(" "),
            base_url: "ftp://x".into(),
            timeout: Duration::ZERO,
        };
        let message = config.validate().unwrap_err().to_string();
        for part in [
            "`api_key` must not be empty",
            "`timeout` must be more than 0",
            "must be an http(s) URL",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        let clear = SendgridConfig {
            base_url: "http://api.example.com".into(),
            ..SendgridConfig::new(key("SG.x"))
        };
        assert!(
            clear
                .validate()
                .unwrap_err()
                .to_string()
                .contains("in clear")
        );
        let local = SendgridConfig {
            base_url: "http://127.0.0.1:8080/".into(),
            ..SendgridConfig::new(key("SG.x"))
        };
        assert_eq!(
            local.endpoint().unwrap().as_str(),
            "http://127.0.0.1:8080/v3/mail/send"
        );
        SendgridConfig::new(key("SG.x")).validate().unwrap();
    }

    #[test]
    fn the_key_is_never_shown() {
        let config = SendgridConfig::new(key("SG.very-secret"));
        let email = config.clone().build().unwrap();
        let shown = format!(
            "{config:?} {email:?} {}",
            serde_json::to_string(&config).unwrap()
        );
        assert!(!shown.contains("very-secret"), "{shown}");
    }

    #[test]
    fn retry_after_in_seconds_dates_or_reset_times() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1"));
        assert_eq!(
            retry_after(&headers),
            None,
            "a reset in the past is no hint"
        );
        let reset = (Utc::now().timestamp() + 3600).to_string();
        headers.insert("x-ratelimit-reset", HeaderValue::from_str(&reset).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(3000), "{wait:?}");
        let date = (Utc::now() + chrono::Duration::seconds(120)).to_rfc2822();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(60), "{wait:?}");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
    }

    #[test]
    fn error_messages_come_from_sendgrids_json() {
        assert_eq!(
            error_message(
                r#"{"errors":[{"message":"Does not contain a valid address.","field":"from.email","help":null},{"message":"oops"}]}"#
            ),
            "from.email: Does not contain a valid address.; oops"
        );
        assert_eq!(error_message("Bad Gateway"), "Bad Gateway");
    }
}
