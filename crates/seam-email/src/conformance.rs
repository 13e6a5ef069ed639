//! The conformance suite every [`EmailService`] adapter runs against its real upstream.
//!
//! An adapter's integration test calls [`run_all`] (or the individual checks) with the
//! service and a [`MailboxReader`] that returns what actually arrived at the other end:
//! the in-memory outbox, the `.eml` files written, the SMTP sink's Maildir, the requests
//! a mock HTTP API captured. Every check uses its own random token in subjects and
//! addresses, so parallel tests and earlier runs never see each other's mail.

use std::time::Duration;

use async_trait::async_trait;
use seam_domain::EmailAddress;

use crate::error::Error;
use crate::memory::InMemoryEmail;
use crate::message::{Attachment, EmailMessage, Mailbox, MessageId};
use crate::{DeliveryStatus, EmailService};

/// How long the suite waits for a sent message to show up in the mailbox.
pub const ARRIVAL_TIMEOUT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// An attachment as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAttachment {
    /// The file name.
    pub filename: String,
    /// The MIME type (`application/pdf`), without parameters.
    pub content_type: String,
    /// The decoded content.
    pub data: Vec<u8>,
}

/// A message as it arrived, read back by a [`MailboxReader`]. Addresses are bare
/// (`ada@example.com`), bodies decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedEmail {
    /// The decoded subject.
    pub subject: String,
    /// The `From` address.
    pub from: String,
    /// The `From` display name.
    pub from_name: Option<String>,
    /// The addresses in the `To` header.
    pub to: Vec<String>,
    /// The addresses in the `Cc` header.
    pub cc: Vec<String>,
    /// The addresses in the `Reply-To` header.
    pub reply_to: Vec<String>,
    /// Every address the message was delivered to (the SMTP envelope, the API's
    /// personalizations): `to`, `cc` and `bcc` recipients.
    pub delivered_to: Vec<String>,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// The attachments.
    pub attachments: Vec<ReceivedAttachment>,
    /// Every header the recipients see (name, decoded value), without the reader's own
    /// envelope bookkeeping (such as a sink's `X-RcptTo`).
    pub headers: Vec<(String, String)>,
}

impl ReceivedEmail {
    /// What a perfect transport delivers for `message`; for readers of captured messages.
    pub fn from_message(message: &EmailMessage) -> Self {
        let addresses = |list: &[Mailbox]| {
            list.iter()
                .map(|mailbox| mailbox.address().to_string())
                .collect::<Vec<_>>()
        };
        let mut headers = vec![
            ("From".to_owned(), message.from().to_string()),
            ("Subject".to_owned(), message.subject().to_owned()),
        ];
        if !message.to().is_empty() {
            headers.push(("To".to_owned(), addresses(message.to()).join(", ")));
        }
        if !message.cc().is_empty() {
            headers.push(("Cc".to_owned(), addresses(message.cc()).join(", ")));
        }
        headers.extend(message.headers().iter().cloned());
        Self {
            subject: message.subject().to_owned(),
            from: message.from().address().to_string(),
            from_name: message.from().name().map(str::to_owned),
            to: addresses(message.to()),
            cc: addresses(message.cc()),
            reply_to: message
                .reply_to()
                .map(|mailbox| vec![mailbox.address().to_string()])
                .unwrap_or_default(),
            delivered_to: message
                .recipients()
                .map(|mailbox| mailbox.address().to_string())
                .collect(),
            text: message.text().map(str::to_owned),
            html: message.html().map(str::to_owned),
            attachments: message
                .attachments()
                .iter()
                .map(|attachment| ReceivedAttachment {
                    filename: attachment.filename().to_owned(),
                    content_type: attachment.content_type().to_owned(),
                    data: attachment.data().to_vec(),
                })
                .collect(),
            headers,
        }
    }

    /// Parses an RFC 5322 message (an `.eml` file, a Maildir entry) that was delivered to
    /// `delivered_to`. `None` when it is not a message.
    pub fn parse_rfc5322(raw: &[u8], delivered_to: Vec<String>) -> Option<Self> {
        use mail_parser::{MessageParser, MimeHeaders, PartType};

        let parsed = MessageParser::default().parse(raw)?;
        let list = |address: Option<&mail_parser::Address<'_>>| -> Vec<String> {
            address
                .map(|address| {
                    address
                        .iter()
                        .filter_map(|addr| addr.address().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let from = parsed.from().and_then(|address| address.first());
        let text = parsed.text_bodies().find_map(|part| match &part.body {
            PartType::Text(text) => Some(text.to_string()),
            _ => None,
        });
        let html = parsed.html_bodies().find_map(|part| match &part.body {
            PartType::Html(html) => Some(html.to_string()),
            _ => None,
        });
        let attachments = parsed
            .attachments()
            .map(|part| ReceivedAttachment {
                filename: part.attachment_name().unwrap_or_default().to_owned(),
                content_type: part
                    .content_type()
                    .map(|ct| match ct.subtype() {
                        Some(subtype) => format!("{}/{subtype}", ct.ctype()),
                        None => ct.ctype().to_owned(),
                    })
                    .unwrap_or_default(),
                data: part.contents().to_vec(),
            })
            .collect();
        let headers = parsed
            .headers()
            .iter()
            .map(|header| {
                let raw_value = raw
                    .get(header.offset_start() as usize..header.offset_end() as usize)
                    .map(|bytes| String::from_utf8_lossy(bytes).trim().to_owned())
                    .unwrap_or_default();
                let value = header.value().as_text().map_or(raw_value, str::to_owned);
                (header.name().to_owned(), value)
            })
            .collect();
        Some(Self {
            subject: parsed.subject().unwrap_or_default().to_owned(),
            from: from
                .and_then(|addr| addr.address())
                .unwrap_or_default()
                .to_owned(),
            from_name: from.and_then(|addr| addr.name()).map(str::to_owned),
            to: list(parsed.to()),
            cc: list(parsed.cc()),
            reply_to: list(parsed.reply_to()),
            delivered_to,
            text,
            html,
            attachments,
            headers,
        })
    }

    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Reads back what arrived at the other end of an adapter.
#[async_trait]
pub trait MailboxReader: Send + Sync {
    /// Every message that arrived so far whose subject contains `token`.
    async fn received(&self, token: &str) -> Vec<ReceivedEmail>;
}

/// A synchronous closure is a reader.
#[async_trait]
impl<F> MailboxReader for F
where
    F: Fn(&str) -> Vec<ReceivedEmail> + Send + Sync,
{
    async fn received(&self, token: &str) -> Vec<ReceivedEmail> {
        self(token)
    }
}

/// The in-memory adapter reads its own outbox.
#[async_trait]
impl MailboxReader for InMemoryEmail {
    async fn received(&self, token: &str) -> Vec<ReceivedEmail> {
        self.sent()
            .iter()
            .filter(|sent| sent.message.subject().contains(token))
            .map(|sent| ReceivedEmail::from_message(&sent.message))
            .collect()
    }
}

/// Whether an adapter recognises a second send of a message with the same caller-chosen
/// id ([`EmailMessage::message_id`]); what its documentation promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deduplication {
    /// A second send with the same id is success without a second delivery (memory, file).
    Deduplicates,
    /// Every send is delivered; the id travels in a header so receivers can deduplicate
    /// (SMTP, SendGrid).
    DeliversEveryTime,
}

/// Runs every check.
///
/// # Panics
///
/// When the adapter breaks the [`EmailService`] contract; the message says how.
pub async fn run_all(
    service: &dyn EmailService,
    reader: &dyn MailboxReader,
    deduplication: Deduplication,
) {
    sends_a_complete_message(service, reader).await;
    refuses_header_injection_before_sending(reader).await;
    send_bulk_reports_one_result_per_message(service, reader).await;
    status_after_send_is_known(service, reader).await;
    status_of_an_unknown_id_is_not_found(service).await;
    same_message_id_gives_the_same_receipt(service, reader, deduplication).await;
}

/// A fresh token for subjects and addresses.
pub fn token() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

fn address(local: &str, token: &str) -> EmailAddress {
    EmailAddress::parse(&format!("{local}-{token}@example.com")).expect("test address")
}

/// Waits until `count` messages whose subject contains `token` arrived.
///
/// # Panics
///
/// When they do not within [`ARRIVAL_TIMEOUT`].
pub async fn wait_for(reader: &dyn MailboxReader, token: &str, count: usize) -> Vec<ReceivedEmail> {
    let attempts = ARRIVAL_TIMEOUT.as_millis() / POLL_INTERVAL.as_millis();
    let mut received = Vec::new();
    for _ in 0..attempts {
        received = reader.received(token).await;
        if received.len() >= count {
            return received;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    panic!(
        "expected {count} message(s) with token {token} within {ARRIVAL_TIMEOUT:?}, found {}: {received:#?}",
        received.len()
    );
}

/// Transports may turn LF into CRLF and add or drop a final line break.
fn normalise(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_owned()
}

/// A message using every feature of [`EmailMessage`], marked with `token`.
pub fn complete_message(token: &str) -> EmailMessage {
    EmailMessage::builder()
        .from(Mailbox::named("Seam Conformance", address("from", token)))
        .to(Mailbox::named("Ada Lovelace", address("to", token)))
        .cc(address("cc", token))
        .bcc(address("bcc", token))
        .reply_to(address("reply", token))
        .subject(format!("Conformance {token} — Grüße"))
        .text(format!(
            "Hello {token},\nGrüße — plain text ✓\nSecond line."
        ))
        .html(format!("<p>Hello <b>{token}</b>, Grüße ✓</p>"))
        .attachment(Attachment::new(
            "receipt.pdf",
            "application/pdf",
            attachment_bytes(),
        ))
        .header("X-Seam-Test", token)
        .build()
        .expect("the complete conformance message is valid")
}

fn attachment_bytes() -> Vec<u8> {
    // Binary content with every byte value, CR and LF included: it must survive encoding.
    let mut bytes = b"%PDF-1.4\r\n".to_vec();
    bytes.extend(0..=255_u8);
    bytes.extend(b"\n%%EOF\n");
    bytes
}

/// `send` delivers subject, recipients (cc shown, bcc delivered but hidden), both
/// bodies, the attachment and the custom header.
///
/// # Panics
///
/// When it does not.
pub async fn sends_a_complete_message(service: &dyn EmailService, reader: &dyn MailboxReader) {
    let token = token();
    let message = complete_message(&token);
    let receipt = service
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("send failed: {error:?}"));
    assert!(!receipt.message_id.as_str().is_empty());

    let received = wait_for(reader, &token, 1).await;
    assert_eq!(
        received.len(),
        1,
        "exactly one message arrives: {received:#?}"
    );
    let got = &received[0];
    let to = address("to", &token).to_string();
    let cc = address("cc", &token).to_string();
    let bcc = address("bcc", &token).to_string();

    assert_eq!(got.subject, message.subject(), "subject");
    assert_eq!(got.from, address("from", &token).to_string(), "from");
    assert_eq!(
        got.from_name.as_deref(),
        Some("Seam Conformance"),
        "from name"
    );
    assert_eq!(got.to, std::slice::from_ref(&to), "To header");
    assert_eq!(got.cc, std::slice::from_ref(&cc), "Cc header");
    assert_eq!(
        got.reply_to,
        [address("reply", &token).to_string()],
        "Reply-To"
    );
    for recipient in [&to, &cc, &bcc] {
        assert!(
            got.delivered_to.contains(recipient),
            "{recipient} must be delivered to; delivered to {:?}",
            got.delivered_to
        );
    }
    for (name, value) in &got.headers {
        assert!(
            !value.contains(&bcc),
            "the bcc recipient must not appear in any header, but {name}: {value}"
        );
    }
    assert_eq!(
        got.text.as_deref().map(normalise),
        message.text().map(normalise),
        "text body"
    );
    assert_eq!(
        got.html.as_deref().map(normalise),
        message.html().map(normalise),
        "HTML body"
    );
    assert_eq!(
        got.attachments,
        [ReceivedAttachment {
            filename: "receipt.pdf".into(),
            content_type: "application/pdf".into(),
            data: attachment_bytes(),
        }],
        "attachment"
    );
    assert_eq!(
        got.header("X-Seam-Test"),
        Some(token.as_str()),
        "custom header"
    );
}

/// Header injection is refused when the message is built, so nothing reaches the adapter.
///
/// # Panics
///
/// When an injection gets through or a message arrives.
pub async fn refuses_header_injection_before_sending(reader: &dyn MailboxReader) {
    let token = token();
    let base = || {
        EmailMessage::builder()
            .from(address("from", &token))
            .to(address("to", &token))
            .subject(format!("Injection {token}"))
            .text("x")
    };
    let evil = address("evil", &token);
    let attempts = [
        base().subject(format!("Injection {token}\r\nBcc: {evil}")),
        base().subject(format!("Injection {token}\nBcc: {evil}")),
        base().from(Mailbox::named(
            format!("Shop\r\nBcc: {evil}"),
            address("from", &token),
        )),
        base().to(Mailbox::named(
            format!("Ada\nBcc: {evil}"),
            address("to", &token),
        )),
        base().header("X-Seam-Test", format!("{token}\r\nBcc: {evil}")),
        base().header("Bcc", evil.to_string()),
        base().header("X-Evil: 1\r\nBcc", evil.to_string()),
        base().attachment(Attachment::new(
            format!("a.txt\"\r\nBcc: {evil}"),
            "text/plain",
            "x",
        )),
    ];
    for (index, attempt) in attempts.into_iter().enumerate() {
        match attempt.build() {
            Err(Error::Invalid(_)) => {}
            other => panic!("injection attempt {index} must be refused as Invalid, got {other:?}"),
        }
    }
    assert!(
        reader.received(&token).await.is_empty(),
        "nothing may arrive for a refused message"
    );
}

/// `send_bulk` returns one result per message in order, each with its own id, and
/// delivers each message to its own recipient.
///
/// # Panics
///
/// When it does not.
pub async fn send_bulk_reports_one_result_per_message(
    service: &dyn EmailService,
    reader: &dyn MailboxReader,
) {
    let tokens: Vec<String> = (0..3).map(|_| token()).collect();
    let messages: Vec<EmailMessage> = tokens
        .iter()
        .map(|token| {
            EmailMessage::builder()
                .from(address("from", token))
                .to(address("to", token))
                .subject(format!("Bulk {token}"))
                .text(format!("Bulk message {token}"))
                .build()
                .expect("valid bulk message")
        })
        .collect();
    let results = service.send_bulk(&messages).await;
    assert_eq!(results.len(), messages.len(), "one result per message");
    let mut ids: Vec<MessageId> = Vec::new();
    for (result, token) in results.into_iter().zip(&tokens) {
        let receipt =
            result.unwrap_or_else(|error| panic!("bulk send of {token} failed: {error:?}"));
        assert!(
            !ids.contains(&receipt.message_id),
            "message ids must be unique"
        );
        ids.push(receipt.message_id);
    }
    for token in &tokens {
        let received = wait_for(reader, token, 1).await;
        assert_eq!(received.len(), 1, "bulk message {token}: {received:#?}");
        assert_eq!(received[0].to, [address("to", token).to_string()]);
        assert_eq!(received[0].subject, format!("Bulk {token}"));
    }
}

/// `status` of a sent message is known (at least `Accepted`), and the message arrives.
///
/// # Panics
///
/// When it is not.
pub async fn status_after_send_is_known(service: &dyn EmailService, reader: &dyn MailboxReader) {
    let token = token();
    let message = EmailMessage::builder()
        .from(address("from", &token))
        .to(address("to", &token))
        .subject(format!("Status {token}"))
        .html("<p>status</p>")
        .build()
        .expect("valid message");
    let receipt = service
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("send failed: {error:?}"));
    let status = service
        .status(&receipt.message_id)
        .await
        .unwrap_or_else(|error| panic!("status of a sent message failed: {error:?}"));
    assert!(
        !matches!(status, DeliveryStatus::Unknown),
        "a sent message has a known status, got {status:?}"
    );
    wait_for(reader, &token, 1).await;
}

/// `status` of an id the service never issued is `NotFound`.
///
/// # Panics
///
/// When it is not.
pub async fn status_of_an_unknown_id_is_not_found(service: &dyn EmailService) {
    let id = MessageId::generate();
    match service.status(&id).await {
        Err(Error::NotFound(got)) => assert_eq!(got, id),
        other => panic!("status of an unknown id must be NotFound, got {other:?}"),
    }
}

/// Sending a message with a caller-chosen id twice returns that id both times, the
/// status of that id is known, and what arrives carries the id in a header. With
/// [`Deduplication::Deduplicates`], exactly one copy arrives.
///
/// # Panics
///
/// When it does not.
pub async fn same_message_id_gives_the_same_receipt(
    service: &dyn EmailService,
    reader: &dyn MailboxReader,
    deduplication: Deduplication,
) {
    let token = token();
    let id = MessageId::new(format!("conformance-{token}")).expect("valid id");
    let message = EmailMessage::builder()
        .from(address("from", &token))
        .to(address("to", &token))
        .subject(format!("Idempotent {token}"))
        .text("sent twice, with the same id")
        .message_id(id.clone())
        .build()
        .expect("valid message");
    let first = service
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("first send failed: {error:?}"));
    assert_eq!(first.message_id, id, "the receipt carries the caller's id");
    let second = service
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("second send with the same id failed: {error:?}"));
    assert_eq!(
        second.message_id, id,
        "a second send with the same id returns the same id"
    );
    let status = service
        .status(&id)
        .await
        .unwrap_or_else(|error| panic!("status of a caller-chosen id failed: {error:?}"));
    assert!(
        !matches!(status, DeliveryStatus::Unknown),
        "a sent message has a known status, got {status:?}"
    );
    match deduplication {
        Deduplication::Deduplicates => {
            // Both sends returned, so whatever they delivered is there (or on its way).
            wait_for(reader, &token, 1).await;
            tokio::time::sleep(POLL_INTERVAL).await;
            let received = reader.received(&token).await;
            assert_eq!(
                received.len(),
                1,
                "a deduplicating adapter delivers a message once: {received:#?}"
            );
        }
        Deduplication::DeliversEveryTime => {
            let received = wait_for(reader, &token, 2).await;
            for got in &received {
                // The in-memory reader shows custom headers only; the wire shows
                // `Message-ID` (SMTP, file) or the adapter's own header (SendGrid).
                assert!(
                    got.headers
                        .iter()
                        .any(|(_, value)| value.contains(id.as_str())),
                    "the caller's id {id} must travel in a header: {:#?}",
                    got.headers
                );
            }
        }
    }
}
