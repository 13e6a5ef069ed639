//! The port's conformance suite, reading back the requests the mock API captured.

use async_trait::async_trait;
use base64::Engine;
use seam_email::MessageId;
use seam_email::conformance::{self, MailboxReader, ReceivedAttachment, ReceivedEmail};
use seam_email_sendgrid::{SEND_PATH, SendgridConfig};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// What SendGrid would deliver, read from the JSON it was given.
pub(crate) struct CapturedRequests<'a> {
    pub(crate) server: &'a MockServer,
}

fn addresses(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|entry| entry["email"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The message SendGrid builds from one request body: one per personalization, with
/// its `to` and `cc` in the headers and its `bcc` in the envelope only.
pub(crate) fn delivered(body: &Value) -> Vec<ReceivedEmail> {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    let content = |kind: &str| {
        body["content"].as_array().and_then(|parts| {
            parts
                .iter()
                .find(|part| part["type"] == kind)
                .and_then(|part| text(&part["value"]))
        })
    };
    let attachments: Vec<ReceivedAttachment> = body["attachments"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|attachment| ReceivedAttachment {
                    filename: text(&attachment["filename"]).unwrap_or_default(),
                    content_type: text(&attachment["type"]).unwrap_or_default(),
                    data: base64::engine::general_purpose::STANDARD
                        .decode(attachment["content"].as_str().unwrap_or_default())
                        .expect("attachment content is base64"),
                })
                .collect()
        })
        .unwrap_or_default();
    let custom: Vec<(String, String)> = body["headers"]
        .as_object()
        .map(|headers| {
            headers
                .iter()
                .map(|(name, value)| (name.clone(), text(value).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let subject = text(&body["subject"]).unwrap_or_default();
    body["personalizations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|personalization| {
            let to = addresses(&personalization["to"]);
            let cc = addresses(&personalization["cc"]);
            let bcc = addresses(&personalization["bcc"]);
            let mut headers = vec![
                (
                    "From".to_owned(),
                    text(&body["from"]["email"]).unwrap_or_default(),
                ),
                ("To".to_owned(), to.join(", ")),
                ("Subject".to_owned(), subject.clone()),
            ];
            if !cc.is_empty() {
                headers.push(("Cc".to_owned(), cc.join(", ")));
            }
            headers.extend(custom.iter().cloned());
            ReceivedEmail {
                subject: subject.clone(),
                from: text(&body["from"]["email"]).unwrap_or_default(),
                from_name: text(&body["from"]["name"]),
                delivered_to: to.iter().chain(&cc).chain(&bcc).cloned().collect(),
                to,
                cc,
                reply_to: text(&body["reply_to"]["email"]).into_iter().collect(),
                text: content("text/plain"),
                html: content("text/html"),
                attachments: attachments.clone(),
                headers,
            }
        })
        .collect()
}

#[async_trait]
impl MailboxReader for CapturedRequests<'_> {
    async fn received(&self, token: &str) -> Vec<ReceivedEmail> {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.url.path() == SEND_PATH)
            .flat_map(|request| delivered(&serde_json::from_slice(&request.body).unwrap()))
            .filter(|email| email.subject.contains(token))
            .collect()
    }
}

#[tokio::test]
async fn sendgrid_adapter_passes_the_conformance_suite_against_a_mock_api() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("authorization", "Bearer SG.test-key"))
        .and(header("content-type", "application/json"))
        .respond_with(|_: &Request| {
            ResponseTemplate::new(202).insert_header("X-Message-Id", MessageId::generate().as_str())
        })
        .mount(&server)
        .await;
    let email = SendgridConfig {
        base_url: server.uri(),
        ..SendgridConfig::new("SG.test-key".parse().unwrap())
    }
    .build()
    .unwrap();
    conformance::run_all(
        &email,
        &CapturedRequests { server: &server },
        conformance::Deduplication::DeliversEveryTime,
    )
    .await;
}
