//! E-mail delivery events: SendGrid Event Webhook batches turned into the e-mail port's
//! [`DeliveryEvent`]s, applied to the suppression list and the delivery status store,
//! and the configured e-mail service wrapped so it honours both.
//!
//! The conversion lives here, not in `seam-email`, because the parsed events come from
//! `seam-webhooks`, which brings HTTP and signature crates the port must not depend on.
//!
//! | SendGrid `event` | [`DeliveryEventKind`] |
//! | --- | --- |
//! | `processed` | `Processed` |
//! | `delivered` | `Delivered` |
//! | `deferred` | `Deferred` |
//! | `bounce` (`type: "bounce"` or none) | `Bounced { Hard }`: suppresses |
//! | `bounce` (`type: "blocked"`), `blocked` | `Bounced { Soft }` |
//! | `dropped` | `Dropped { reason }`: suppresses for `Bounced Address`, `Spam Reporting Address` |
//! | `spamreport` | `SpamReport`: suppresses |
//! | `open`, `click` | `Opened`, `Clicked` |
//! | `unsubscribe`, `group_unsubscribe` | `Unsubscribed` |
//! | anything else | `Other(name)` |
//!
//! The message id is the `seam_message_id` custom argument (set by the SendGrid adapter
//! for a caller-chosen id), else the `X-Message-Id` part of `sg_message_id` (the part
//! before the first `.`), which is the id the adapter returns otherwise.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use seam_core::{Classify, ErrorKind};
use seam_domain::EmailAddress;
use seam_email::events::{Applied, apply};
use seam_email::{
    BounceType, DeliveryEvent, DeliveryEventKind, DeliveryStatusStore, EmailService,
    InMemoryDeliveryEvents, InMemorySuppressionList, MessageId, SuppressingEmailService,
    SuppressionList,
};
use seam_sql::Database;
use seam_webhooks::events::{EventParseError, SendgridEvent, sendgrid_events};

/// The custom argument carrying Seam's message id (the SendGrid adapter's `MESSAGE_ID_ARG`).
pub const SENDGRID_MESSAGE_ID_ARG: &str = seam_email_sendgrid::MESSAGE_ID_ARG;

/// A SendGrid event that cannot become a [`DeliveryEvent`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendgridEventError {
    /// The event's `sg_event_id` is empty or longer than 255 bytes, so it cannot be
    /// deduplicated.
    #[error("SendGrid event has an unusable `sg_event_id` ({length} bytes)")]
    InvalidEventId {
        /// Its length in bytes.
        length: usize,
    },
    /// The event names no recipient.
    #[error("SendGrid event {event_id} has no `email`")]
    MissingRecipient {
        /// The event's `sg_event_id`.
        event_id: String,
    },
    /// The recipient is not a valid address.
    #[error("SendGrid event {event_id}: recipient {reason}")]
    InvalidRecipient {
        /// The event's `sg_event_id`.
        event_id: String,
        /// Why the address was refused.
        reason: String,
    },
}

/// The message id a SendGrid event refers to, when it names one.
pub fn sendgrid_message_id(event: &SendgridEvent) -> Option<MessageId> {
    let custom = event
        .other
        .get(SENDGRID_MESSAGE_ID_ARG)
        .and_then(|value| value.as_str())
        .and_then(|id| MessageId::new(id.trim()).ok());
    custom.or_else(|| {
        let sg = event.sg_message_id.as_deref()?;
        let upstream = sg.split('.').next().unwrap_or(sg).trim();
        MessageId::new(upstream).ok()
    })
}

fn text(event: &SendgridEvent, key: &str) -> Option<String> {
    event
        .other
        .get(key)
        .and_then(|value| value.as_str())
        .map(str::to_owned)
}

/// The port's kind of a SendGrid event (see the module table).
pub fn sendgrid_kind(event: &SendgridEvent) -> DeliveryEventKind {
    // Bounces carry `reason`; some accounts only send `status` (the SMTP code).
    let reason = || {
        event
            .reason
            .clone()
            .or_else(|| text(event, "status"))
            .unwrap_or_default()
    };
    match event.event.as_str() {
        "processed" => DeliveryEventKind::Processed,
        "delivered" => DeliveryEventKind::Delivered,
        "deferred" => DeliveryEventKind::Deferred,
        "bounce" => DeliveryEventKind::Bounced {
            reason: reason(),
            bounce_type: match text(event, "type").as_deref() {
                Some("blocked") => BounceType::Soft,
                _ => BounceType::Hard,
            },
        },
        "blocked" => DeliveryEventKind::Bounced {
            reason: reason(),
            bounce_type: BounceType::Soft,
        },
        "dropped" => DeliveryEventKind::Dropped { reason: reason() },
        "spamreport" => DeliveryEventKind::SpamReport,
        "open" => DeliveryEventKind::Opened,
        "click" => DeliveryEventKind::Clicked,
        "unsubscribe" | "group_unsubscribe" => DeliveryEventKind::Unsubscribed,
        other => DeliveryEventKind::Other(other.to_owned()),
    }
}

/// One SendGrid event as the port's [`DeliveryEvent`]; `received_at` stands in for a
/// missing or out-of-range `timestamp`.
///
/// # Errors
///
/// [`SendgridEventError`] when the event has no valid recipient.
pub fn sendgrid_delivery_event(
    event: &SendgridEvent,
    received_at: DateTime<Utc>,
) -> Result<DeliveryEvent, SendgridEventError> {
    let length = event.sg_event_id.len();
    if event.sg_event_id.trim().is_empty() || length > 255 {
        return Err(SendgridEventError::InvalidEventId { length });
    }
    let email = event
        .email
        .as_deref()
        .ok_or_else(|| SendgridEventError::MissingRecipient {
            event_id: event.sg_event_id.clone(),
        })?;
    let recipient =
        EmailAddress::parse(email).map_err(|error| SendgridEventError::InvalidRecipient {
            event_id: event.sg_event_id.clone(),
            reason: error.to_string(),
        })?;
    Ok(DeliveryEvent {
        message_id: sendgrid_message_id(event),
        recipient,
        kind: sendgrid_kind(event),
        occurred_at: event
            .timestamp
            .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
            .unwrap_or(received_at),
        provider_event_id: event.sg_event_id.clone(),
    })
}

/// Applying a SendGrid batch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmailEventsError {
    /// The body is not a SendGrid event array: retrying cannot help.
    #[error(transparent)]
    Unreadable(#[from] EventParseError),
    /// A store failed; its kind says whether a retry may help.
    #[error("e-mail event stores: {0}")]
    Store(#[from] seam_email::Error),
}

impl Classify for EmailEventsError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreadable(_) => ErrorKind::Invalid,
            Self::Store(error) => error.kind(),
        }
    }
}

/// What applying a SendGrid batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendgridApplied {
    /// What the stores did with the usable events.
    pub applied: Applied,
    /// Events left out because they had no valid recipient or event id (logged at `warn`).
    pub skipped: Vec<SendgridEventError>,
}

impl std::fmt::Display for SendgridApplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} e-mail events recorded, {} already recorded, {} addresses suppressed, {} skipped",
            self.applied.recorded,
            self.applied.duplicates,
            self.applied.suppressed.len(),
            self.skipped.len()
        )
    }
}

/// For a queue consumer: an unreadable body is `Undecodable` (dead-lettered at once), a
/// store failure keeps its kind (retried when retryable).
impl From<EmailEventsError> for seam_orders::OrdersError {
    fn from(error: EmailEventsError) -> Self {
        match error {
            EmailEventsError::Unreadable(error) => Self::Undecodable(error.to_string()),
            EmailEventsError::Store(error) => {
                let kind = error.kind();
                Self::Queue(seam_queue::Error::backend("email", kind, error))
            }
        }
    }
}

/// The suppression list and the delivery status store, shared by the e-mail service
/// (which reads them) and the webhook consumer (which writes them).
#[derive(Debug, Clone)]
pub struct EmailEventStores {
    /// Addresses that must not be mailed.
    pub suppressions: Arc<dyn SuppressionList>,
    /// Delivery events, answering `status`.
    pub statuses: Arc<dyn DeliveryStatusStore>,
}

impl EmailEventStores {
    /// The stores in the project's database (tables of migration 0009), shared by every
    /// process using it.
    pub fn sql(database: &Database) -> Self {
        Self {
            suppressions: Arc::new(seam_repository_sql::SqlSuppressionList::new(database)),
            statuses: Arc::new(seam_repository_sql::SqlDeliveryEvents::new(database)),
        }
    }

    /// Stores in this process only, for tests.
    pub fn in_memory() -> Self {
        Self {
            suppressions: Arc::new(InMemorySuppressionList::new()),
            statuses: Arc::new(InMemoryDeliveryEvents::new()),
        }
    }

    /// `email` behind a [`SuppressingEmailService`] over these stores.
    pub fn wrap(&self, email: Arc<dyn EmailService>) -> Arc<dyn EmailService> {
        Arc::new(SuppressingEmailService::new(
            email,
            self.suppressions.clone(),
            self.statuses.clone(),
        ))
    }

    /// Applies a verified SendGrid Event Webhook body (a JSON array of events): hard
    /// bounces, spam reports and bounce/spam drops suppress their recipient, and every
    /// event is recorded once by its `sg_event_id`. Events without a valid recipient or
    /// event id are skipped with a warning (one bad event never blocks its batch).
    /// Applying the same body again changes nothing.
    ///
    /// # Errors
    ///
    /// [`EmailEventsError::Unreadable`] (`Invalid`) for a body that is not an event
    /// array; [`EmailEventsError::Store`] with the store's kind when a store fails.
    pub async fn apply_sendgrid(
        &self,
        body: &[u8],
        received_at: DateTime<Utc>,
    ) -> Result<SendgridApplied, EmailEventsError> {
        let mut events = Vec::new();
        let mut skipped = Vec::new();
        for event in sendgrid_events(body)? {
            match sendgrid_delivery_event(&event, received_at) {
                Ok(event) => events.push(event),
                Err(error) => {
                    tracing::warn!(error.message = %error, "SendGrid event skipped");
                    skipped.push(error);
                }
            }
        }
        let applied = apply(&events, self.suppressions.as_ref(), self.statuses.as_ref()).await?;
        for address in &applied.suppressed {
            tracing::info!(
                recipient_domain = address.domain(),
                "e-mail address suppressed"
            );
        }
        Ok(SendgridApplied { applied, skipped })
    }
}

#[cfg(test)]
mod tests {
    use seam_email::{DeliveryStatus, EmailMessage, InMemoryEmail};

    use super::*;

    fn parse(body: &str) -> Vec<SendgridEvent> {
        sendgrid_events(body.as_bytes()).unwrap()
    }

    #[test]
    fn every_documented_event_maps_to_its_kind() {
        let events = parse(
            r#"[
            {"sg_event_id":"1","event":"processed","email":"a@example.com"},
            {"sg_event_id":"2","event":"delivered","email":"a@example.com"},
            {"sg_event_id":"3","event":"deferred","email":"a@example.com"},
            {"sg_event_id":"4","event":"bounce","type":"bounce","reason":"550 no such user","email":"a@example.com"},
            {"sg_event_id":"5","event":"bounce","type":"blocked","status":"4.0.0","email":"a@example.com"},
            {"sg_event_id":"6","event":"dropped","reason":"Bounced Address","email":"a@example.com"},
            {"sg_event_id":"7","event":"spamreport","email":"a@example.com"},
            {"sg_event_id":"8","event":"open","email":"a@example.com"},
            {"sg_event_id":"9","event":"click","url":"https://example.com","email":"a@example.com"},
            {"sg_event_id":"10","event":"group_unsubscribe","email":"a@example.com"},
            {"sg_event_id":"11","event":"group_resubscribe","email":"a@example.com"}
        ]"#,
        );
        let kinds: Vec<DeliveryEventKind> = events.iter().map(sendgrid_kind).collect();
        assert_eq!(
            kinds,
            [
                DeliveryEventKind::Processed,
                DeliveryEventKind::Delivered,
                DeliveryEventKind::Deferred,
                DeliveryEventKind::Bounced {
                    reason: "550 no such user".into(),
                    bounce_type: BounceType::Hard
                },
                DeliveryEventKind::Bounced {
                    reason: "4.0.0".into(),
                    bounce_type: BounceType::Soft
                },
                DeliveryEventKind::Dropped {
                    reason: "Bounced Address".into()
                },
                DeliveryEventKind::SpamReport,
                DeliveryEventKind::Opened,
                DeliveryEventKind::Clicked,
                DeliveryEventKind::Unsubscribed,
                DeliveryEventKind::Other("group_resubscribe".into()),
            ]
        );
    }

    #[test]
    fn the_message_id_is_the_custom_arg_else_the_x_message_id() {
        let events = parse(
            r#"[
            {"sg_event_id":"1","event":"delivered","email":"a@example.com","seam_message_id":"order-1-confirmed","sg_message_id":"abc.filter0001.1.0"},
            {"sg_event_id":"2","event":"delivered","email":"a@example.com","sg_message_id":"14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"},
            {"sg_event_id":"3","event":"delivered","email":"a@example.com","seam_message_id":"has space"},
            {"sg_event_id":"4","event":"delivered","email":"a@example.com"}
        ]"#,
        );
        let ids: Vec<Option<String>> = events
            .iter()
            .map(|event| sendgrid_message_id(event).map(|id| id.to_string()))
            .collect();
        assert_eq!(
            ids,
            [
                Some("order-1-confirmed".to_owned()),
                Some("14c5d75ce93".to_owned()),
                None,
                None
            ]
        );
    }

    #[test]
    fn times_and_recipients() {
        let received = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let events = parse(
            r#"[
            {"sg_event_id":"1","event":"open","email":"Ada@Example.COM","timestamp":1700000000},
            {"sg_event_id":"2","event":"open","email":"Ada@Example.COM"},
            {"sg_event_id":"3","event":"open"},
            {"sg_event_id":"4","event":"open","email":"not an address"},
            {"sg_event_id":" ","event":"open","email":"ada@example.com"}
        ]"#,
        );
        let first = sendgrid_delivery_event(&events[0], received).unwrap();
        assert_eq!(first.occurred_at.timestamp(), 1_700_000_000);
        assert_eq!(first.recipient.as_str(), "Ada@example.com");
        assert_eq!(first.provider_event_id, "1");
        assert_eq!(
            sendgrid_delivery_event(&events[1], received)
                .unwrap()
                .occurred_at,
            received
        );
        assert_eq!(
            sendgrid_delivery_event(&events[2], received),
            Err(SendgridEventError::MissingRecipient {
                event_id: "3".into()
            })
        );
        assert!(matches!(
            sendgrid_delivery_event(&events[3], received),
            Err(SendgridEventError::InvalidRecipient { .. })
        ));
        assert_eq!(
            sendgrid_delivery_event(&events[4], received),
            Err(SendgridEventError::InvalidEventId { length: 1 })
        );
    }

    #[tokio::test]
    async fn a_sendgrid_bounce_suppresses_the_next_send() {
        let stores = EmailEventStores::in_memory();
        let inner = Arc::new(InMemoryEmail::new());
        let email = stores.wrap(inner.clone());
        let message = EmailMessage::builder()
            .from(EmailAddress::parse("shop@example.com").unwrap())
            .to(EmailAddress::parse("gone@example.com").unwrap())
            .subject("Your order")
            .text("Thanks")
            .message_id(MessageId::new("order-7-confirmed").unwrap())
            .build()
            .unwrap();
        email.send(&message).await.unwrap();
        let body = br#"[
            {"sg_event_id":"b1","event":"bounce","type":"bounce","reason":"550 5.1.1 unknown user","email":"gone@example.com","timestamp":1700000000,"seam_message_id":"order-7-confirmed"},
            {"email":"nobody","sg_event_id":"x","event":"open"}
        ]"#;
        let received = Utc::now();
        let done = stores.apply_sendgrid(body, received).await.unwrap();
        assert_eq!(done.applied.recorded, 1);
        assert_eq!(done.skipped.len(), 1);
        let again = stores.apply_sendgrid(body, received).await.unwrap();
        assert_eq!(again.applied.duplicates, 1);

        let id = MessageId::new("order-7-confirmed").unwrap();
        assert_eq!(
            email.status(&id).await.unwrap(),
            DeliveryStatus::Bounced {
                reason: "550 5.1.1 unknown user".into()
            }
        );
        let error = email.send(&message).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        assert!(error.to_string().contains("gone@example.com"), "{error}");
        assert_eq!(inner.sent().len(), 1);

        let unreadable = stores
            .apply_sendgrid(b"{\"event\":\"open\"}", received)
            .await
            .unwrap_err();
        assert_eq!(unreadable.kind(), ErrorKind::Invalid);
        assert!(matches!(
            seam_orders::OrdersError::from(unreadable),
            seam_orders::OrdersError::Undecodable(_)
        ));
        assert_eq!(
            done.to_string(),
            "1 e-mail events recorded, 0 already recorded, 1 addresses suppressed, 1 skipped"
        );
    }
}
