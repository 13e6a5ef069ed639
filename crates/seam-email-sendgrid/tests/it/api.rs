//! The exact request SendGrid receives, and how each answer is classified.

use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use seam_domain::EmailAddress;
use seam_email::{Attachment, DeliveryStatus, EmailMessage, EmailService, Error, Mailbox};
use seam_email_sendgrid::{SEND_PATH, SendgridConfig, SendgridEmail};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn addr(text: &str) -> EmailAddress {
    EmailAddress::parse(text).unwrap()
}

fn adapter(server: &MockServer, timeout: Duration) -> SendgridEmail {
    SendgridConfig {
        base_url: server.uri(),
        timeout,
        ..SendgridConfig::new("SG.test-key".parse().unwrap())
    }
    .build()
    .unwrap()
}

fn simple() -> EmailMessage {
    EmailMessage::builder()
        .from(addr("shop@example.com"))
        .to(addr("ada@example.com"))
        .subject("Hello")
        .text("Hi")
        .build()
        .unwrap()
}

/// A mock answering every send with `response`.
async fn answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn sends_sendgrids_documented_json_with_the_key_as_bearer() {
    let server = MockServer::start().await;
    let expected = json!({
        "personalizations": [{
            "to": [{"email": "ada@example.com", "name": "Ada Lovelace"}],
            "cc": [{"email": "cc@example.com"}],
            "bcc": [{"email": "audit@example.com"}]
        }],
        "from": {"email": "shop@example.com", "name": "Seam Shop"},
        "reply_to": {"email": "help@example.com"},
        "subject": "Your order",
        "content": [
            {"type": "text/plain", "value": "Thanks"},
            {"type": "text/html", "value": "<p>Thanks</p>"}
        ],
        "attachments": [{
            "content": "AAEC",
            "type": "application/pdf",
            "filename": "receipt.pdf",
            "disposition": "attachment"
        }],
        "headers": {"X-Order-Id": "o-42"}
    });
    Mock::given(method("POST"))
        .and(path(SEND_PATH))
        .and(header("authorization", "Bearer SG.test-key"))
        .and(header("content-type", "application/json"))
        .and(body_json(&expected))
        .respond_with(ResponseTemplate::new(202).insert_header("X-Message-Id", "sg-abc123"))
        .expect(1)
        .mount(&server)
        .await;
    let message = EmailMessage::builder()
        .from(Mailbox::named("Seam Shop", addr("shop@example.com")))
        .to(Mailbox::named("Ada Lovelace", addr("ada@example.com")))
        .cc(addr("cc@example.com"))
        // The same address twice: SendGrid refuses duplicates, so it is sent once.
        .bcc(addr("ada@example.com"))
        .bcc(addr("audit@example.com"))
        .reply_to(addr("help@example.com"))
        .subject("Your order")
        // Set in the other order: text/plain must still come first.
        .html("<p>Thanks</p>")
        .text("Thanks")
        .attachment(Attachment::new(
            "receipt.pdf",
            "application/pdf",
            vec![0, 1, 2],
        ))
        .header("X-Order-Id", "o-42")
        .build()
        .unwrap();
    let email = adapter(&server, Duration::from_secs(5));
    let receipt = email.send(&message).await.unwrap();
    assert_eq!(receipt.message_id.as_str(), "sg-abc123");
    assert_eq!(
        email.status(&receipt.message_id).await.unwrap(),
        DeliveryStatus::Accepted
    );
}

#[tokio::test]
async fn too_many_requests_is_rate_limited_with_retry_after() {
    let server = answering(ResponseTemplate::new(429).insert_header("Retry-After", "7")).await;
    let error = adapter(&server, Duration::from_secs(5))
        .send(&simple())
        .await
        .unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::RateLimited {
            retry_after: Some(Duration::from_secs(7))
        },
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_are_transient() {
    for status in [500, 502, 503] {
        let server = answering(ResponseTemplate::new(status)).await;
        let error = adapter(&server, Duration::from_secs(5))
            .send(&simple())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Transient, "{status}: {error:?}");
    }
}

#[tokio::test]
async fn bad_requests_are_permanent_with_sendgrids_message() {
    let server = answering(ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{"message": "The from address does not match a verified Sender Identity.", "field": "from", "help": null}]
    })))
    .await;
    let error = adapter(&server, Duration::from_secs(5))
        .send(&simple())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent, "{error:?}");
    assert!(
        error
            .to_string()
            .contains("from: The from address does not match a verified Sender Identity."),
        "{error}"
    );
}

#[tokio::test]
async fn rejected_keys_are_unauthorized() {
    for status in [401, 403] {
        let server = answering(ResponseTemplate::new(status).set_body_json(json!({
            "errors": [{"message": "The provided authorization grant is invalid, expired, or revoked", "field": null, "help": null}]
        })))
        .await;
        let error = adapter(&server, Duration::from_secs(5))
            .send(&simple())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unauthorized, "{status}: {error:?}");
        assert!(!format!("{error:?}").contains("SG.test-key"));
    }
}

#[tokio::test]
async fn a_slow_api_times_out() {
    let server = answering(ResponseTemplate::new(202).set_delay(Duration::from_millis(1000))).await;
    let error = adapter(&server, Duration::from_millis(100))
        .send(&simple())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Timeout(_)), "{error:?}");
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    // A port we bound, then released: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let email = SendgridConfig {
        base_url: format!("http://{closed}"),
        timeout: Duration::from_secs(5),
        ..SendgridConfig::new("SG.test-key".parse().unwrap())
    }
    .build()
    .unwrap();
    let error = email.send(&simple()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error:?}");
}

#[tokio::test]
async fn a_message_without_to_is_refused_before_calling() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .expect(0)
        .mount(&server)
        .await;
    let message = EmailMessage::builder()
        .from(addr("shop@example.com"))
        .bcc(addr("audit@example.com"))
        .subject("Hidden")
        .text("x")
        .build()
        .unwrap();
    let error = adapter(&server, Duration::from_secs(5))
        .send(&message)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Invalid, "{error:?}");
}
