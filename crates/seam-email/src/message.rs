//! E-mail messages that are valid by construction.
//!
//! Every header an adapter writes comes from an [`EmailMessage`], and [`EmailMessageBuilder::build`]
//! refuses CR, LF and other control characters in all of them (subject, display names,
//! attachment names, custom headers): header injection is refused before anything is sent.

use std::fmt;

use seam_domain::EmailAddress;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The most bytes one attachment may hold (10 MiB).
pub const MAX_ATTACHMENT_BYTES: usize = 10 * 1024 * 1024;
/// The most bytes all attachments of a message may hold together (20 MiB, under the
/// common 25 MiB relay limit once base64 is counted... mostly: providers differ).
pub const MAX_TOTAL_ATTACHMENT_BYTES: usize = 20 * 1024 * 1024;
/// The most recipients (`to` + `cc` + `bcc`) one message may have (SendGrid's limit).
pub const MAX_RECIPIENTS: usize = 1000;
/// The longest subject accepted, in characters (RFC 5322 line limit).
pub const MAX_SUBJECT_CHARS: usize = 998;

/// Headers the message sets itself: a custom header may not name them.
const RESERVED_HEADERS: &[&str] = &[
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "return-path",
    "received",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "content-disposition",
    "dkim-signature",
    "x-sg-id",
    "x-sg-eid",
];

/// The id of a sent message, as returned by [`crate::EmailService::send`].
///
/// Opaque text without whitespace or control characters, at most 255 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

impl MessageId {
    /// The longest id accepted, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Wraps an id given by an upstream.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when it is empty, too long, or holds whitespace or control characters.
    pub fn new(id: impl Into<String>) -> Result<Self> {
        let id = id.into();
        if id.is_empty() || id.len() > Self::MAX_LEN {
            return Err(Error::invalid(format!(
                "message id must have 1 to {} bytes",
                Self::MAX_LEN
            )));
        }
        if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::invalid(
                "message id must not contain whitespace or control characters",
            ));
        }
        Ok(Self(id))
    }

    /// A new, unique id (a UUIDv7, so ids sort by time).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().simple().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for MessageId {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        Self::new(value)
    }
}

impl From<MessageId> for String {
    fn from(id: MessageId) -> Self {
        id.0
    }
}

/// An address with an optional display name: `Ada Lovelace <ada@example.com>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    name: Option<String>,
    address: EmailAddress,
}

impl Mailbox {
    /// An address without a display name.
    pub fn new(address: EmailAddress) -> Self {
        Self {
            name: None,
            address,
        }
    }

    /// An address with a display name (checked when the message is built).
    pub fn named(name: impl Into<String>, address: EmailAddress) -> Self {
        Self {
            name: Some(name.into()),
            address,
        }
    }

    /// The display name, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The address.
    pub fn address(&self) -> &EmailAddress {
        &self.address
    }

    fn validate(&self, role: &str) -> Result<()> {
        if let Some(name) = &self.name {
            no_control_chars(&format!("{role} display name"), name)?;
            if name.chars().count() > 256 {
                return Err(Error::invalid(format!(
                    "{role} display name must be at most 256 characters"
                )));
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Mailbox {
    type Err = Error;

    /// Parses `ada@example.com`, `Ada Lovelace <ada@example.com>` or
    /// `"Lovelace, Ada" <ada@example.com>`.
    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim();
        let Some(open) = text.rfind('<') else {
            return parse_address(text).map(Self::new);
        };
        let Some(inner) = text[open + 1..].strip_suffix('>') else {
            return Err(Error::invalid(format!("{text:?} is not `Name <address>`")));
        };
        let address = parse_address(inner)?;
        let name = text[..open].trim();
        let name = name
            .strip_prefix('"')
            .and_then(|name| name.strip_suffix('"'))
            .unwrap_or(name);
        let mailbox = if name.is_empty() {
            Self::new(address)
        } else {
            Self::named(name, address)
        };
        mailbox.validate("mailbox")?;
        Ok(mailbox)
    }
}

fn parse_address(text: &str) -> Result<EmailAddress> {
    EmailAddress::parse(text).map_err(|error| Error::invalid(error.to_string()))
}

impl From<EmailAddress> for Mailbox {
    fn from(address: EmailAddress) -> Self {
        Self::new(address)
    }
}

impl fmt::Display for Mailbox {
    /// `"Ada Lovelace" <ada@example.com>` or `ada@example.com`; for logs, not for headers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name:?} <{}>", self.address),
            None => write!(f, "{}", self.address),
        }
    }
}

/// A file attached to a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    filename: String,
    content_type: String,
    data: Vec<u8>,
}

impl Attachment {
    /// An attachment (checked when the message is built): `filename` without path
    /// separators or control characters, `content_type` such as `application/pdf`, and
    /// at most [`MAX_ATTACHMENT_BYTES`] of data.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            data: data.into(),
        }
    }

    /// The file name shown to the recipient.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The MIME type, such as `application/pdf`.
    pub fn content_type(&self) -> &str {
        &self.content_type
    }

    /// The content.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn validate(&self) -> Result<()> {
        let name = &self.filename;
        if name.trim().is_empty() || name.chars().count() > 255 {
            return Err(Error::invalid(
                "attachment file name must have 1 to 255 characters",
            ));
        }
        no_control_chars("attachment file name", name)?;
        if name.contains(['/', '\\', '"']) {
            return Err(Error::invalid(format!(
                "attachment file name {name:?} must not contain '/', '\\' or '\"'"
            )));
        }
        if !is_mime_type(&self.content_type) {
            return Err(Error::invalid(format!(
                "attachment content type {:?} is not a MIME type such as application/pdf",
                self.content_type
            )));
        }
        if self.data.len() > MAX_ATTACHMENT_BYTES {
            return Err(Error::invalid(format!(
                "attachment {name:?} has {} bytes, more than the {MAX_ATTACHMENT_BYTES} allowed",
                self.data.len()
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("bytes", &self.data.len())
            .finish()
    }
}

/// An e-mail, valid by construction: build it with [`EmailMessage::builder`].
///
/// ```
/// use seam_domain::EmailAddress;
/// use seam_email::{Attachment, EmailMessage, Mailbox};
///
/// let shop = EmailAddress::parse("shop@example.com").unwrap();
/// let ada = EmailAddress::parse("ada@example.com").unwrap();
/// let message = EmailMessage::builder()
///     .from(Mailbox::named("Seam Shop", shop))
///     .to(ada)
///     .subject("Your order")
///     .text("Thank you!")
///     .attachment(Attachment::new("receipt.txt", "text/plain", "paid"))
///     .header("X-Order-Id", "o-42")
///     .build()
///     .unwrap();
/// assert_eq!(message.subject(), "Your order");
///
/// // Header injection is refused.
/// let error = EmailMessage::builder()
///     .from(EmailAddress::parse("shop@example.com").unwrap())
///     .to(EmailAddress::parse("ada@example.com").unwrap())
///     .subject("Hi\r\nBcc: victim@example.com")
///     .text("...")
///     .build()
///     .unwrap_err();
/// assert!(error.to_string().contains("subject"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailMessage {
    from: Mailbox,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Option<Mailbox>,
    subject: String,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    headers: Vec<(String, String)>,
    message_id: Option<MessageId>,
}

impl EmailMessage {
    /// Starts a message.
    pub fn builder() -> EmailMessageBuilder {
        EmailMessageBuilder::default()
    }

    /// The sender.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// The `To` recipients.
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// The `Cc` recipients.
    pub fn cc(&self) -> &[Mailbox] {
        &self.cc
    }

    /// The blind-copy recipients: delivered to, never shown in headers.
    pub fn bcc(&self) -> &[Mailbox] {
        &self.bcc
    }

    /// Every recipient: `to`, then `cc`, then `bcc`.
    pub fn recipients(&self) -> impl Iterator<Item = &Mailbox> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }

    /// Where replies go, if not to the sender.
    pub fn reply_to(&self) -> Option<&Mailbox> {
        self.reply_to.as_ref()
    }

    /// The subject: one line.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The plain-text body, if any.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The HTML body, if any.
    pub fn html(&self) -> Option<&str> {
        self.html.as_deref()
    }

    /// The attachments, in order.
    pub fn attachments(&self) -> &[Attachment] {
        &self.attachments
    }

    /// The custom headers (name, value), in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The caller-chosen id, if any (see [`EmailMessageBuilder::message_id`]).
    pub fn message_id(&self) -> Option<&MessageId> {
        self.message_id.as_ref()
    }
}

/// Builds an [`EmailMessage`]; [`build`](Self::build) checks everything at once.
#[derive(Debug, Clone, Default)]
pub struct EmailMessageBuilder {
    from: Option<Mailbox>,
    to: Vec<Mailbox>,
    cc: Vec<Mailbox>,
    bcc: Vec<Mailbox>,
    reply_to: Option<Mailbox>,
    subject: Option<String>,
    text: Option<String>,
    html: Option<String>,
    attachments: Vec<Attachment>,
    headers: Vec<(String, String)>,
    message_id: Option<MessageId>,
}

impl EmailMessageBuilder {
    /// Sets the sender.
    pub fn from(mut self, from: impl Into<Mailbox>) -> Self {
        self.from = Some(from.into());
        self
    }

    /// Adds a `To` recipient.
    pub fn to(mut self, to: impl Into<Mailbox>) -> Self {
        self.to.push(to.into());
        self
    }

    /// Adds a `Cc` recipient.
    pub fn cc(mut self, cc: impl Into<Mailbox>) -> Self {
        self.cc.push(cc.into());
        self
    }

    /// Adds a blind-copy recipient.
    pub fn bcc(mut self, bcc: impl Into<Mailbox>) -> Self {
        self.bcc.push(bcc.into());
        self
    }

    /// Sets where replies go.
    pub fn reply_to(mut self, reply_to: impl Into<Mailbox>) -> Self {
        self.reply_to = Some(reply_to.into());
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// Sets the HTML body.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.html = Some(html.into());
        self
    }

    /// Sets the subject and both bodies from a rendered template.
    pub fn rendered(self, rendered: crate::RenderedEmail) -> Self {
        self.subject(rendered.subject)
            .text(rendered.text)
            .html(rendered.html)
    }

    /// Adds an attachment.
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.attachments.push(attachment);
        self
    }

    /// Adds a custom header, such as `X-Order-Id`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Gives the message a stable id chosen by the caller, such as one derived from the
    /// event that caused it, so that sending it again (after a crash, on redelivery) is
    /// recognisable as the same message. Without it, the adapter generates an id.
    ///
    /// See the idempotency rules of [`crate::EmailService`].
    pub fn message_id(mut self, id: MessageId) -> Self {
        self.message_id = Some(id);
        self
    }

    /// Checks and builds the message.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] naming the first problem: no sender, no recipient or more than
    /// [`MAX_RECIPIENTS`], no body, a subject that is empty, too long or holds CR/LF or
    /// other control characters, a display name with control characters, an attachment
    /// that is too big or badly named, a custom header with a bad or reserved name or a
    /// value with CR/LF.
    pub fn build(self) -> Result<EmailMessage> {
        let from = self
            .from
            .ok_or_else(|| Error::invalid("a message needs a sender (from)"))?;
        from.validate("from")?;
        let recipients = self.to.len() + self.cc.len() + self.bcc.len();
        if recipients == 0 {
            return Err(Error::invalid(
                "a message needs at least one recipient (to, cc or bcc)",
            ));
        }
        if recipients > MAX_RECIPIENTS {
            return Err(Error::invalid(format!(
                "a message may have at most {MAX_RECIPIENTS} recipients, not {recipients}"
            )));
        }
        for (role, list) in [("to", &self.to), ("cc", &self.cc), ("bcc", &self.bcc)] {
            for mailbox in list {
                mailbox.validate(role)?;
            }
        }
        if let Some(reply_to) = &self.reply_to {
            reply_to.validate("reply-to")?;
        }

        let subject = self.subject.unwrap_or_default();
        if subject.trim().is_empty() {
            return Err(Error::invalid("subject must not be empty"));
        }
        if subject.contains(['\r', '\n']) {
            return Err(Error::invalid(
                "subject must not contain CR or LF (header injection)",
            ));
        }
        no_control_chars("subject", &subject)?;
        if subject.chars().count() > MAX_SUBJECT_CHARS {
            return Err(Error::invalid(format!(
                "subject must be at most {MAX_SUBJECT_CHARS} characters"
            )));
        }

        if self.text.is_none() && self.html.is_none() {
            return Err(Error::invalid(
                "a message needs a text body, an HTML body or both",
            ));
        }

        let mut total = 0_usize;
        for attachment in &self.attachments {
            attachment.validate()?;
            total += attachment.data.len();
        }
        if total > MAX_TOTAL_ATTACHMENT_BYTES {
            return Err(Error::invalid(format!(
                "attachments have {total} bytes together, more than the {MAX_TOTAL_ATTACHMENT_BYTES} allowed"
            )));
        }

        for (name, value) in &self.headers {
            validate_header(name, value)?;
        }

        Ok(EmailMessage {
            from,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            reply_to: self.reply_to,
            subject,
            text: self.text,
            html: self.html,
            attachments: self.attachments,
            headers: self.headers,
            message_id: self.message_id,
        })
    }
}

fn no_control_chars(what: &str, text: &str) -> Result<()> {
    if text.contains(['\r', '\n']) {
        return Err(Error::invalid(format!(
            "{what} must not contain CR or LF (header injection)"
        )));
    }
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

fn validate_header(name: &str, value: &str) -> Result<()> {
    // RFC 5322 field name: printable US-ASCII except ':'. Kept to letters, digits and '-'
    // in practice, which every provider accepts.
    if name.is_empty()
        || name.len() > 76
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(Error::invalid(format!(
            "header name {name:?} must be 1 to 76 letters, digits or '-'"
        )));
    }
    if RESERVED_HEADERS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
    {
        return Err(Error::invalid(format!(
            "header {name:?} is set by the message itself and cannot be a custom header"
        )));
    }
    no_control_chars(&format!("header {name} value"), value)?;
    if value.len() > 998 {
        return Err(Error::invalid(format!(
            "header {name} value must be at most 998 bytes"
        )));
    }
    Ok(())
}

fn is_mime_type(text: &str) -> bool {
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match text.split_once('/') {
        Some((kind, subtype)) => token(kind) && token(subtype),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    fn valid() -> EmailMessageBuilder {
        EmailMessage::builder()
            .from(Mailbox::named("Shop", addr("shop@example.com")))
            .to(addr("ada@example.com"))
            .subject("Hello")
            .text("Hi")
    }

    fn reason(builder: EmailMessageBuilder) -> String {
        match builder.build() {
            Err(Error::Invalid(reason)) => reason,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_complete_message_builds() {
        let message = valid()
            .cc(addr("cc@example.com"))
            .bcc(addr("bcc@example.com"))
            .reply_to(addr("help@example.com"))
            .html("<p>Hi</p>")
            .attachment(Attachment::new("a.pdf", "application/pdf", vec![1, 2, 3]))
            .header("X-Order-Id", "o-1")
            .build()
            .unwrap();
        assert_eq!(message.recipients().count(), 3);
        assert_eq!(message.from().name(), Some("Shop"));
        assert_eq!(message.html(), Some("<p>Hi</p>"));
        assert_eq!(message.headers(), [("X-Order-Id".into(), "o-1".into())]);
        assert_eq!(
            format!("{:?}", message.attachments()[0]),
            "Attachment { filename: \"a.pdf\", content_type: \"application/pdf\", bytes: 3 }"
        );
    }

    #[test]
    fn recipients_sender_and_body_are_required() {
        let no_recipient = EmailMessage::builder()
            .from(addr("shop@example.com"))
            .subject("s")
            .text("t");
        assert!(reason(no_recipient).contains("at least one recipient"));
        let no_sender = EmailMessage::builder()
            .to(addr("a@example.com"))
            .subject("s")
            .text("t");
        assert!(reason(no_sender).contains("sender"));
        let no_body = EmailMessage::builder()
            .from(addr("shop@example.com"))
            .bcc(addr("a@example.com"))
            .subject("s");
        assert!(reason(no_body).contains("body"));
        // A bcc alone is a recipient.
        assert!(
            EmailMessage::builder()
                .from(addr("shop@example.com"))
                .bcc(addr("a@example.com"))
                .subject("s")
                .html("<b>x</b>")
                .build()
                .is_ok()
        );
        let mut many = valid();
        for i in 0..MAX_RECIPIENTS {
            many = many.bcc(addr(&format!("r{i}@example.com")));
        }
        assert!(reason(many).contains("at most 1000 recipients"));
    }

    #[test]
    fn header_injection_is_refused_everywhere() {
        for subject in ["Hi\r\nBcc: x@evil.com", "Hi\nX: y", "Hi\rX: y", "a\u{0}b"] {
            let why = reason(valid().subject(subject));
            assert!(why.starts_with("subject must not contain"), "{why}");
        }
        assert!(reason(valid().subject("  ")).contains("empty"));
        assert!(reason(valid().subject("x".repeat(999))).contains("at most 998"));
        let why = reason(valid().from(Mailbox::named(
            "Shop\r\nBcc: x@evil.com",
            addr("shop@example.com"),
        )));
        assert!(
            why.contains("from display name must not contain CR or LF"),
            "{why}"
        );
        let why = reason(valid().cc(Mailbox::named("a\nb", addr("c@example.com"))));
        assert!(why.contains("cc display name"), "{why}");
        let why = reason(valid().header("X-Ok", "v\r\nBcc: x@evil.com"));
        assert!(
            why.contains("X-Ok value must not contain CR or LF"),
            "{why}"
        );
    }

    #[test]
    fn custom_header_names_are_checked_and_reserved_ones_refused() {
        for bad in ["", "X Bad", "X:Bad", "Bé", &"X".repeat(77)] {
            let why = reason(valid().header(bad, "v"));
            assert!(why.contains("must be 1 to 76 letters"), "{bad:?}: {why}");
        }
        for reserved in ["Bcc", "to", "SUBJECT", "Content-Type", "Message-ID", "From"] {
            let why = reason(valid().header(reserved, "v"));
            assert!(
                why.contains("cannot be a custom header"),
                "{reserved}: {why}"
            );
        }
        assert!(
            valid()
                .header("X-Campaign", "spring 2026 — ünïcode")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn attachments_are_checked_and_bounded() {
        let big = vec![0_u8; MAX_ATTACHMENT_BYTES + 1];
        let why =
            reason(valid().attachment(Attachment::new("big.bin", "application/octet-stream", big)));
        assert!(why.contains("more than the"), "{why}");
        let half = vec![0_u8; MAX_ATTACHMENT_BYTES];
        let why = reason(
            valid()
                .attachment(Attachment::new(
                    "a.bin",
                    "application/octet-stream",
                    half.clone(),
                ))
                .attachment(Attachment::new(
                    "b.bin",
                    "application/octet-stream",
                    half.clone(),
                ))
                .attachment(Attachment::new(
                    "c.bin",
                    "application/octet-stream",
                    vec![1],
                )),
        );
        assert!(why.contains("together"), "{why}");
        for name in ["", "../etc/passwd", "a\r\nb.txt", "a\"b"] {
            assert!(
                valid()
                    .attachment(Attachment::new(name, "text/plain", "x"))
                    .build()
                    .is_err(),
                "{name:?}"
            );
        }
        for content_type in ["text", "text/", "text/plain\r\nX: y", "a b/c"] {
            assert!(
                valid()
                    .attachment(Attachment::new("a.txt", content_type, "x"))
                    .build()
                    .is_err(),
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn mailboxes_parse_from_config_text() {
        let shop: Mailbox = "Seam Shop <shop@example.com>".parse().unwrap();
        assert_eq!(shop.name(), Some("Seam Shop"));
        assert_eq!(shop.address().as_str(), "shop@example.com");
        let quoted: Mailbox = "\"Lovelace, Ada\" <ada@example.com>".parse().unwrap();
        assert_eq!(quoted.name(), Some("Lovelace, Ada"));
        let bare: Mailbox = " ada@example.com ".parse().unwrap();
        assert_eq!(bare.name(), None);
        let unnamed: Mailbox = "<ada@example.com>".parse().unwrap();
        assert_eq!(unnamed.name(), None);
        for bad in [
            "",
            "Ada <ada@example.com",
            "Ada <nope>",
            "A\nB <a@example.com>",
        ] {
            assert!(bad.parse::<Mailbox>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn message_ids_are_opaque_single_tokens() {
        let id = MessageId::generate();
        assert_eq!(id.as_str().len(), 32);
        assert_ne!(MessageId::generate(), id);
        assert!(MessageId::new("abc.123_X-y").is_ok());
        for bad in ["", "a b", "a\r\nb", &"x".repeat(256)] {
            assert!(MessageId::new(bad).is_err(), "{bad:?}");
        }
    }
}
