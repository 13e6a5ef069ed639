//! The RFC 5322 (MIME) form of an [`EmailMessage`], built with `lettre`.
//!
//! Shared by the adapters that write the wire format themselves (`.eml` files, SMTP), so
//! there is one formatting to get right. Bcc recipients are in the envelope only, never
//! in the headers.

use lettre::Address;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{
    Attachment as MimeAttachment, Mailbox as LettreMailbox, MultiPart, SinglePart,
};

use crate::error::{Error, Result};
use crate::message::{EmailMessage, Mailbox, MessageId};

/// The `Message-ID` header value for `id` sent by `message`: `<id@sender-domain>`.
pub fn message_id_header(message: &EmailMessage, id: &MessageId) -> String {
    format!("<{id}@{}>", message.from().address().domain())
}

/// Converts a mailbox to lettre's.
///
/// # Errors
///
/// [`Error::Invalid`] when lettre does not accept the address.
pub fn to_lettre_mailbox(mailbox: &Mailbox) -> Result<LettreMailbox> {
    let address: Address = mailbox.address().as_str().parse().map_err(|error| {
        Error::invalid(format!(
            "address {} cannot be sent: {error}",
            mailbox.address()
        ))
    })?;
    Ok(LettreMailbox::new(
        mailbox.name().map(str::to_owned),
        address,
    ))
}

/// The message as a `lettre` message, with `Message-ID` from `id` and `Date` now.
/// Its envelope holds every recipient, bcc included; its headers never show bcc.
///
/// # Errors
///
/// [`Error::Invalid`] when lettre refuses a part of the message (an address it does not
/// accept, for instance).
pub fn to_lettre(message: &EmailMessage, id: &MessageId) -> Result<lettre::Message> {
    let mut builder = lettre::Message::builder()
        .message_id(Some(message_id_header(message, id)))
        .from(to_lettre_mailbox(message.from())?)
        .subject(message.subject());
    for mailbox in message.to() {
        builder = builder.to(to_lettre_mailbox(mailbox)?);
    }
    for mailbox in message.cc() {
        builder = builder.cc(to_lettre_mailbox(mailbox)?);
    }
    for mailbox in message.bcc() {
        builder = builder.bcc(to_lettre_mailbox(mailbox)?);
    }
    if let Some(mailbox) = message.reply_to() {
        builder = builder.reply_to(to_lettre_mailbox(mailbox)?);
    }
    for (name, value) in message.headers() {
        let name = HeaderName::new_from_ascii(name.clone())
            .map_err(|error| Error::invalid(format!("header name {name:?}: {error}")))?;
        builder = builder.raw_header(HeaderValue::new(name, value.clone()));
    }

    let body = match (message.text(), message.html()) {
        (Some(text), Some(html)) => Body::Multi(MultiPart::alternative_plain_html(
            text.to_owned(),
            html.to_owned(),
        )),
        (Some(text), None) => Body::Single(SinglePart::plain(text.to_owned())),
        (None, Some(html)) => Body::Single(SinglePart::html(html.to_owned())),
        (None, None) => return Err(Error::invalid("a message needs a body")),
    };

    let built = if message.attachments().is_empty() {
        match body {
            Body::Multi(part) => builder.multipart(part),
            Body::Single(part) => builder.singlepart(part),
        }
    } else {
        let mut mixed = match body {
            Body::Multi(part) => MultiPart::mixed().multipart(part),
            Body::Single(part) => MultiPart::mixed().singlepart(part),
        };
        for attachment in message.attachments() {
            let content_type = ContentType::parse(attachment.content_type()).map_err(|error| {
                Error::invalid(format!(
                    "attachment content type {:?}: {error}",
                    attachment.content_type()
                ))
            })?;
            mixed = mixed.singlepart(
                MimeAttachment::new(attachment.filename().to_owned())
                    .body(attachment.data().to_vec(), content_type),
            );
        }
        builder.multipart(mixed)
    };
    built.map_err(|error| Error::invalid(format!("the message cannot be formatted: {error}")))
}

enum Body {
    Multi(MultiPart),
    Single(SinglePart),
}

#[cfg(test)]
mod tests {
    use seam_domain::EmailAddress;

    use super::*;
    use crate::Attachment;

    fn addr(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    #[test]
    fn headers_and_envelope() {
        let message = EmailMessage::builder()
            .from(Mailbox::named("Seam Shop", addr("shop@example.com")))
            .to(addr("ada@example.com"))
            .cc(addr("cc@example.com"))
            .bcc(addr("secret@example.com"))
            .reply_to(addr("help@example.com"))
            .subject("Grüße")
            .text("plain")
            .html("<p>html</p>")
            .attachment(Attachment::new(
                "a.pdf",
                "application/pdf",
                vec![0, 159, 146, 150],
            ))
            .header("X-Order-Id", "o-1")
            .build()
            .unwrap();
        let id = MessageId::new("abc").unwrap();
        let mime = to_lettre(&message, &id).unwrap();
        let text = String::from_utf8(mime.formatted()).unwrap();
        assert!(text.contains("Message-ID: <abc@example.com>\r\n"), "{text}");
        assert!(
            text.contains("From: \"Seam Shop\" <shop@example.com>\r\n"),
            "{text}"
        );
        assert!(text.contains("X-Order-Id: o-1\r\n"), "{text}");
        assert!(text.contains("Subject: =?utf-8?"), "{text}");
        assert!(!text.contains("secret@example.com"), "{text}");
        assert!(text.contains("multipart/mixed"));
        assert!(text.contains("multipart/alternative"));
        let recipients: Vec<String> = mime
            .envelope()
            .to()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            recipients,
            ["ada@example.com", "cc@example.com", "secret@example.com"]
        );
    }

    #[test]
    fn single_bodies_are_single_parts() {
        let message = EmailMessage::builder()
            .from(addr("shop@example.com"))
            .bcc(addr("only@example.com"))
            .subject("s")
            .html("<p>only html</p>")
            .build()
            .unwrap();
        let text = String::from_utf8(
            to_lettre(&message, &MessageId::generate())
                .unwrap()
                .formatted(),
        )
        .unwrap();
        assert!(
            text.contains("Content-Type: text/html; charset=utf-8"),
            "{text}"
        );
        assert!(!text.contains("multipart"), "{text}");
        assert!(!text.contains("only@example.com"), "{text}");
    }
}
