//! The e-mail port: how Seam sends mail without knowing who delivers it.
//!
//! - [`EmailService`]: `send`, `send_bulk` and `status`, used as `Arc<dyn EmailService>`.
//! - [`EmailMessage`]: a message that is valid by construction (built with
//!   [`EmailMessage::builder`]): at least one recipient, at least one body, no header
//!   injection through the subject, display names or custom headers, bounded attachments.
//! - [`Error`]: one error enum whose variants say what went wrong in terms a retry policy
//!   understands ([`seam_core::Classify`]).
//! - [`Templates`]: the order e-mails, rendered with `minijinja` from a typed context.
//! - [`memory::InMemoryEmail`]: an in-memory adapter that records what was sent; the fake
//!   for tests.
//! - [`suppression`]: the suppression list and [`SuppressingEmailService`], which refuses
//!   suppressed recipients; [`events`]: provider delivery events, the store `status`
//!   answers from, and [`events::apply`].
//! - `conformance` (feature `conformance`): the suite every adapter's integration test runs.
//! - `mime` (feature `lettre`): the RFC 5322 form of a message, shared by the adapters
//!   that write MIME themselves (file, SMTP), so there is one formatting to test.

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod events;
pub mod memory;
pub mod message;
#[cfg(feature = "lettre")]
pub mod mime;
pub mod sent_log;
pub mod suppression;
pub mod templates;

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use events::{
    BounceType, DeliveryEvent, DeliveryEventKind, DeliveryStatusStore, InMemoryDeliveryEvents,
};
pub use memory::InMemoryEmail;
pub use message::{
    Attachment, EmailMessage, EmailMessageBuilder, MAX_ATTACHMENT_BYTES, MAX_RECIPIENTS,
    MAX_TOTAL_ATTACHMENT_BYTES, Mailbox, MessageId,
};
pub use sent_log::SentLog;
pub use suppression::{
    InMemorySuppressionList, SuppressingEmailService, Suppression, SuppressionList,
};
pub use templates::{OrderEmail, OrderEmailLine, RenderedEmail, Templates};

/// What an adapter answers when it accepted a message for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// The id to ask [`EmailService::status`] about.
    pub message_id: MessageId,
    /// When the adapter's upstream accepted the message.
    pub accepted_at: DateTime<Utc>,
}

/// Where a message is on its way to the recipient, as far as the adapter knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryStatus {
    /// Accepted by the upstream (SMTP relay, API, file); nothing known since.
    Accepted,
    /// Delivered to the recipient's server.
    Delivered,
    /// The recipient's server refused the message.
    Bounced {
        /// Why, as reported.
        reason: String,
    },
    /// The provider did not send the message (suppression list, invalid address...).
    Dropped {
        /// Why, as reported.
        reason: String,
    },
    /// Delivery was delayed; the provider keeps trying.
    Deferred,
    /// The recipient marked the message as spam.
    SpamReport,
    /// The recipient opened the message.
    Opened,
    /// The recipient clicked a link in the message.
    Clicked,
    /// The provider reported something this port does not model.
    Unknown,
}

/// Sends e-mail.
///
/// # Contract
///
/// - `send` MUST deliver the message to every `to`, `cc` and `bcc` recipient, MUST keep
///   `bcc` recipients out of the headers the recipients see, and MUST carry the subject,
///   both bodies, the attachments and the custom headers unchanged.
/// - `send` MUST return a [`SendReceipt`] whose `message_id` is unique per sent message.
///   When the message carries a caller-chosen id ([`EmailMessage::message_id`]), the
///   receipt's `message_id` MUST be that id.
/// - Idempotency: an adapter that can deduplicate (its documentation says so) MUST
///   treat a second send of a message with the same caller-chosen id as success without delivering it twice, and MUST return the same id. An adapter that
///   cannot (SMTP, SendGrid) MUST still carry the id to the receiver (in the
///   `Message-ID` header, or a custom header or argument where the upstream sets its
///   own `Message-ID`) so the receiver can.
/// - `send` MUST map failures to the right variant: [`Error::Transient`] for a passing
///   fault (SMTP 4xx, connection failure, HTTP 5xx), [`Error::Permanent`] for a refusal
///   (SMTP 5xx, HTTP 4xx), [`Error::RateLimited`] for HTTP 429 (with its `Retry-After`),
///   [`Error::Unauthorized`] for rejected credentials, [`Error::Timeout`] when the
///   upstream did not answer in time.
/// - `send_bulk` MUST return one result per message, in the order given; one failure
///   MUST NOT stop the others.
/// - `status` MUST answer [`DeliveryStatus::Accepted`] (or a later status) for an id this
///   service returned, and MUST return [`Error::NotFound`] for an id it never issued.
///   Adapters that cannot ask their upstream answer the last status they know.
///
/// Header injection cannot reach an adapter: [`EmailMessage`] refuses CR/LF in every
/// header it builds.
#[async_trait]
pub trait EmailService: Debug + Send + Sync + 'static {
    /// Sends one message.
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt>;

    /// Sends several messages, one result per message in the same order.
    ///
    /// The default sends them one after the other; adapters with a batch API may do better.
    async fn send_bulk(&self, messages: &[EmailMessage]) -> Vec<Result<SendReceipt>> {
        let mut results = Vec::with_capacity(messages.len());
        for message in messages {
            results.push(self.send(message).await);
        }
        results
    }

    /// The delivery status of a message this service sent.
    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus>;
}

/// The port as a trait object: what services hold, as `Arc<DynEmailService>`.
pub type DynEmailService = dyn EmailService;

#[async_trait]
impl<T: EmailService + ?Sized> EmailService for Arc<T> {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt> {
        (**self).send(message).await
    }

    async fn send_bulk(&self, messages: &[EmailMessage]) -> Vec<Result<SendReceipt>> {
        (**self).send_bulk(messages).await
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus> {
        (**self).status(id).await
    }
}

#[async_trait]
impl<T: EmailService + ?Sized> EmailService for Box<T> {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt> {
        (**self).send(message).await
    }

    async fn send_bulk(&self, messages: &[EmailMessage]) -> Vec<Result<SendReceipt>> {
        (**self).send_bulk(messages).await
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus> {
        (**self).status(id).await
    }
}
