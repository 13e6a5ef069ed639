//! Delivery events reported by a provider (SendGrid's Event Webhook…), the store that
//! remembers them so [`EmailService::status`](crate::EmailService::status) can answer
//! from them, and [`apply`], which records a batch and suppresses the addresses that
//! must not be mailed again.
//!
//! The port knows no vendor JSON: adapters or the composition turn a provider's events
//! into [`DeliveryEvent`]s (for SendGrid, see `seam-wiring`'s `email_events`).

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_domain::EmailAddress;
use serde::{Deserialize, Serialize};

use crate::DeliveryStatus;
use crate::error::{Error, Result};
use crate::message::MessageId;
use crate::suppression::SuppressionList;

/// Whether a bounce is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceType {
    /// The address does not exist or refuses mail for good (SendGrid `type: "bounce"`).
    Hard,
    /// A temporary refusal (SendGrid `type: "blocked"`): the address stays mailable.
    Soft,
}

/// What happened to a message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliveryEventKind {
    /// The provider accepted the message and will try to deliver it.
    Processed,
    /// The recipient's server accepted the message.
    Delivered,
    /// The recipient's server delayed it; the provider keeps trying.
    Deferred,
    /// The recipient's server refused the message.
    Bounced {
        /// Why, as reported.
        reason: String,
        /// Whether the refusal is final.
        bounce_type: BounceType,
    },
    /// The provider did not send the message.
    Dropped {
        /// Why, as reported (SendGrid: `Bounced Address`, `Spam Reporting Address`…).
        reason: String,
    },
    /// The recipient marked the message as spam.
    SpamReport,
    /// The recipient opened the message.
    Opened,
    /// The recipient clicked a link.
    Clicked,
    /// The recipient unsubscribed.
    Unsubscribed,
    /// An event this port does not model, by the provider's name.
    Other(String),
}

impl DeliveryEventKind {
    /// The kind as stored: a name and, for bounces, drops and unknown events, a detail
    /// (the reason, or the provider's event name). [`from_parts`](Self::from_parts)
    /// reads it back.
    pub fn to_parts(&self) -> (&'static str, Option<&str>) {
        match self {
            Self::Processed => ("processed", None),
            Self::Delivered => ("delivered", None),
            Self::Deferred => ("deferred", None),
            Self::Bounced {
                reason,
                bounce_type: BounceType::Hard,
            } => ("bounced", Some(reason)),
            Self::Bounced {
                reason,
                bounce_type: BounceType::Soft,
            } => ("blocked", Some(reason)),
            Self::Dropped { reason } => ("dropped", Some(reason)),
            Self::SpamReport => ("spam_report", None),
            Self::Opened => ("opened", None),
            Self::Clicked => ("clicked", None),
            Self::Unsubscribed => ("unsubscribed", None),
            Self::Other(name) => ("other", Some(name)),
        }
    }

    /// Reads back what [`to_parts`](Self::to_parts) wrote.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a name `to_parts` never writes.
    pub fn from_parts(name: &str, detail: Option<&str>) -> Result<Self> {
        let detail = || detail.unwrap_or_default().to_owned();
        Ok(match name {
            "processed" => Self::Processed,
            "delivered" => Self::Delivered,
            "deferred" => Self::Deferred,
            "bounced" => Self::Bounced {
                reason: detail(),
                bounce_type: BounceType::Hard,
            },
            "blocked" => Self::Bounced {
                reason: detail(),
                bounce_type: BounceType::Soft,
            },
            "dropped" => Self::Dropped { reason: detail() },
            "spam_report" => Self::SpamReport,
            "opened" => Self::Opened,
            "clicked" => Self::Clicked,
            "unsubscribed" => Self::Unsubscribed,
            "other" => Self::Other(detail()),
            other => {
                return Err(Error::invalid(format!(
                    "unknown delivery event kind `{other}`"
                )));
            }
        })
    }

    /// Why the recipient's address must not be mailed again after this event, if it
    /// must: hard bounces, spam reports, and drops because the address bounced or
    /// reported spam before. Soft bounces, other drops (spam content, invalid
    /// content…) and unsubscribes (a list preference, not a delivery failure) do not.
    pub fn suppression_reason(&self) -> Option<String> {
        match self {
            Self::Bounced {
                reason,
                bounce_type: BounceType::Hard,
            } => Some(format!("hard bounce: {reason}")),
            Self::SpamReport => Some("spam report".to_owned()),
            Self::Dropped { reason } => {
                let lower = reason.to_ascii_lowercase();
                (lower.contains("bounce")
                    || lower.contains("spam report")
                    || lower.contains("spam reporting"))
                .then(|| format!("dropped: {reason}"))
            }
            _ => None,
        }
    }

    /// The status this event puts a message in, or `None` when it says nothing about
    /// delivery (unsubscribes, unknown events).
    pub fn status(&self) -> Option<DeliveryStatus> {
        Some(match self {
            Self::Processed => DeliveryStatus::Accepted,
            Self::Delivered => DeliveryStatus::Delivered,
            Self::Deferred => DeliveryStatus::Deferred,
            Self::Bounced { reason, .. } => DeliveryStatus::Bounced {
                reason: reason.clone(),
            },
            Self::Dropped { reason } => DeliveryStatus::Dropped {
                reason: reason.clone(),
            },
            Self::SpamReport => DeliveryStatus::SpamReport,
            Self::Opened => DeliveryStatus::Opened,
            Self::Clicked => DeliveryStatus::Clicked,
            Self::Unsubscribed | Self::Other(_) => return None,
        })
    }

    /// Which status wins when two events carry the same time: the one further along.
    fn rank(&self) -> u8 {
        match self {
            Self::Processed => 1,
            Self::Deferred => 2,
            Self::Delivered => 3,
            Self::Opened => 4,
            Self::Clicked => 5,
            Self::Bounced { .. } | Self::Dropped { .. } => 6,
            Self::SpamReport => 7,
            Self::Unsubscribed | Self::Other(_) => 0,
        }
    }
}

/// One delivery event for one recipient of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    /// The message, when the provider's event names one this service can recognise
    /// (SendGrid: the `seam_message_id` custom argument, else the `X-Message-Id` part
    /// of `sg_message_id`).
    pub message_id: Option<MessageId>,
    /// The recipient the event is about.
    pub recipient: EmailAddress,
    /// What happened.
    pub kind: DeliveryEventKind,
    /// When it happened, as the provider says.
    pub occurred_at: DateTime<Utc>,
    /// The provider's unique id of the event: the deduplication key.
    pub provider_event_id: String,
}

/// The status of a message from its recorded events: the latest event that says
/// something about delivery wins; at the same instant, the one further along
/// (processed < deferred < delivered < opened < clicked < bounced/dropped < spam report).
/// `None` when no event says anything about delivery.
///
/// A message with several recipients has one status: the latest event of any of them.
pub fn status_from_events<'a>(
    events: impl IntoIterator<Item = &'a DeliveryEvent>,
) -> Option<DeliveryStatus> {
    events
        .into_iter()
        .filter(|event| event.kind.status().is_some())
        .max_by_key(|event| (event.occurred_at, event.kind.rank()))
        .and_then(|event| event.kind.status())
}

/// Remembers delivery events, once each, and answers a message's status from them.
///
/// # Contract
///
/// - `record` MUST store the event and return `true` the first time its
///   `provider_event_id` is seen, and MUST return `false` without changing anything for
///   an id already recorded (providers deliver events more than once).
/// - `record` MUST return [`Error::Invalid`] when `provider_event_id` is empty.
/// - `status` MUST answer [`status_from_events`] over the recorded events of the
///   message, and `None` when none of them says anything about delivery (or there are
///   none).
/// - Failures of the store MUST be [`Error::Transient`] when a retry may succeed.
#[async_trait]
pub trait DeliveryStatusStore: Debug + Send + Sync + 'static {
    /// Records one event; `false` when its id was already recorded.
    async fn record(&self, event: &DeliveryEvent) -> Result<bool>;

    /// The status of a message from its recorded events.
    async fn status(&self, id: &MessageId) -> Result<Option<DeliveryStatus>>;
}

/// Checks what every [`DeliveryStatusStore`] checks before writing.
///
/// # Errors
///
/// [`Error::Invalid`] when the provider event id is empty or longer than 255 bytes.
pub fn check_event(event: &DeliveryEvent) -> Result<()> {
    let id = event.provider_event_id.trim();
    if id.is_empty() || event.provider_event_id.len() > 255 {
        return Err(Error::invalid(
            "a delivery event needs a provider event id of 1 to 255 bytes",
        ));
    }
    Ok(())
}

#[derive(Debug, Default)]
struct Recorded {
    ids: HashSet<String>,
    by_message: HashMap<MessageId, Vec<DeliveryEvent>>,
}

/// A [`DeliveryStatusStore`] in memory: the fake for tests and single-process use.
#[derive(Debug, Default)]
pub struct InMemoryDeliveryEvents {
    state: Mutex<Recorded>,
}

impl InMemoryDeliveryEvents {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, Recorded> {
        // Every update is one insert and one push: a panic cannot leave it half-done.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many distinct events were recorded.
    pub fn len(&self) -> usize {
        self.state().ids.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl DeliveryStatusStore for InMemoryDeliveryEvents {
    async fn record(&self, event: &DeliveryEvent) -> Result<bool> {
        check_event(event)?;
        let mut state = self.state();
        if !state.ids.insert(event.provider_event_id.clone()) {
            return Ok(false);
        }
        if let Some(id) = &event.message_id {
            state
                .by_message
                .entry(id.clone())
                .or_default()
                .push(event.clone());
        }
        Ok(true)
    }

    async fn status(&self, id: &MessageId) -> Result<Option<DeliveryStatus>> {
        Ok(self.state().by_message.get(id).and_then(status_from_events))
    }
}

/// What [`apply`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Events recorded for the first time.
    pub recorded: usize,
    /// Events already recorded before (redeliveries), left as they were.
    pub duplicates: usize,
    /// Addresses suppressed by this batch (an address already suppressed counts again:
    /// suppressing is idempotent).
    pub suppressed: Vec<EmailAddress>,
}

/// Applies a batch of delivery events: suppresses the recipients of hard bounces, spam
/// reports and bounce/spam drops ([`DeliveryEventKind::suppression_reason`]), then
/// records every event once by its provider id.
///
/// Suppression comes before recording so that a failure in between leaves the event
/// unrecorded: the provider (or the queue) delivers it again and both happen then.
/// Both steps are idempotent, so applying the same batch twice changes nothing.
///
/// # Errors
///
/// The first error of either store; events before it stay applied.
pub async fn apply(
    events: &[DeliveryEvent],
    suppressions: &dyn SuppressionList,
    statuses: &dyn DeliveryStatusStore,
) -> Result<Applied> {
    let mut applied = Applied::default();
    for event in events {
        check_event(event)?;
        if let Some(reason) = event.kind.suppression_reason() {
            suppressions
                .suppress(&event.recipient, &reason, event.occurred_at)
                .await?;
            applied.suppressed.push(event.recipient.clone());
        }
        if statuses.record(event).await? {
            applied.recorded += 1;
        } else {
            applied.duplicates += 1;
        }
    }
    Ok(applied)
}

/// The contract checks every [`DeliveryStatusStore`] runs (feature `conformance`).
///
/// # Panics
///
/// When the store breaks its contract.
#[cfg(feature = "conformance")]
pub async fn delivery_status_store_conformance(store: &dyn DeliveryStatusStore) {
    use chrono::TimeZone;

    let message = MessageId::generate();
    let other = MessageId::generate();
    let at = |second: i64| {
        Utc.timestamp_opt(1_700_000_000 + second, 0)
            .single()
            .expect("time")
    };
    let event =
        |id: &str, message: Option<&MessageId>, kind: DeliveryEventKind, second| DeliveryEvent {
            message_id: message.cloned(),
            recipient: EmailAddress::parse("Ada@Example.com").expect("address"),
            kind,
            occurred_at: at(second),
            provider_event_id: format!("{id}-{}", message.map_or("none", MessageId::as_str)),
        };

    assert_eq!(store.status(&message).await.expect("status"), None);
    let delivered = event(
        "delivered",
        Some(&message),
        DeliveryEventKind::Delivered,
        10,
    );
    assert!(store.record(&delivered).await.expect("record"));
    assert!(
        !store.record(&delivered).await.expect("record again"),
        "a second record of one event id is a duplicate"
    );
    assert_eq!(
        store.status(&message).await.expect("status"),
        Some(DeliveryStatus::Delivered)
    );
    // Earlier in time, recorded later: does not win.
    let processed = event("processed", Some(&message), DeliveryEventKind::Processed, 5);
    assert!(store.record(&processed).await.expect("record"));
    let bounced = DeliveryEventKind::Bounced {
        reason: "550 5.1.1 no such user".into(),
        bounce_type: BounceType::Soft,
    };
    assert!(
        store
            .record(&event("bounce", Some(&message), bounced, 20))
            .await
            .expect("record")
    );
    // Says nothing about delivery: does not change the status.
    let unsubscribed = event("unsub", Some(&message), DeliveryEventKind::Unsubscribed, 30);
    assert!(store.record(&unsubscribed).await.expect("record"));
    assert_eq!(
        store.status(&message).await.expect("status"),
        Some(DeliveryStatus::Bounced {
            reason: "550 5.1.1 no such user".into()
        })
    );

    let silent = event(
        "other",
        Some(&other),
        DeliveryEventKind::Other("x".into()),
        1,
    );
    assert!(store.record(&silent).await.expect("record"));
    assert_eq!(store.status(&other).await.expect("status"), None);
    let same_time = [
        event("delivered", Some(&other), DeliveryEventKind::Delivered, 40),
        event("clicked", Some(&other), DeliveryEventKind::Clicked, 40),
        event("opened", Some(&other), DeliveryEventKind::Opened, 40),
    ];
    for one in &same_time {
        assert!(store.record(one).await.expect("record"));
    }
    assert_eq!(
        store.status(&other).await.expect("status"),
        Some(DeliveryStatus::Clicked),
        "at the same instant the status further along wins"
    );

    let without_message = DeliveryEvent {
        provider_event_id: format!("no-message-{message}"),
        ..event("x", None, DeliveryEventKind::Delivered, 1)
    };
    assert!(store.record(&without_message).await.expect("record"));
    let empty = DeliveryEvent {
        provider_event_id: String::new(),
        ..delivered
    };
    assert!(
        matches!(store.record(&empty).await, Err(Error::Invalid(_))),
        "an empty provider event id is refused"
    );
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::suppression::InMemorySuppressionList;

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    fn event(id: &str, message: &str, kind: DeliveryEventKind, second: i64) -> DeliveryEvent {
        DeliveryEvent {
            message_id: Some(MessageId::new(message).unwrap()),
            recipient: EmailAddress::parse("Ada@Example.com").unwrap(),
            kind,
            occurred_at: at(second),
            provider_event_id: id.to_owned(),
        }
    }

    fn bounce(bounce_type: BounceType) -> DeliveryEventKind {
        DeliveryEventKind::Bounced {
            reason: "550 5.1.1 no such user".into(),
            bounce_type,
        }
    }

    #[test]
    fn kinds_round_trip_through_their_parts() {
        let kinds = [
            DeliveryEventKind::Processed,
            DeliveryEventKind::Delivered,
            DeliveryEventKind::Deferred,
            bounce(BounceType::Hard),
            bounce(BounceType::Soft),
            DeliveryEventKind::Dropped {
                reason: "Bounced Address".into(),
            },
            DeliveryEventKind::SpamReport,
            DeliveryEventKind::Opened,
            DeliveryEventKind::Clicked,
            DeliveryEventKind::Unsubscribed,
            DeliveryEventKind::Other("group_resubscribe".into()),
        ];
        for kind in kinds {
            let (name, detail) = kind.to_parts();
            assert_eq!(DeliveryEventKind::from_parts(name, detail).unwrap(), kind);
        }
        assert!(matches!(
            DeliveryEventKind::from_parts("exploded", None),
            Err(Error::Invalid(_))
        ));
    }

    #[test]
    fn only_final_failures_and_complaints_suppress() {
        assert!(
            bounce(BounceType::Hard)
                .suppression_reason()
                .unwrap()
                .contains("550 5.1.1")
        );
        assert_eq!(bounce(BounceType::Soft).suppression_reason(), None);
        assert_eq!(
            DeliveryEventKind::SpamReport
                .suppression_reason()
                .as_deref(),
            Some("spam report")
        );
        for (reason, suppresses) in [
            ("Bounced Address", true),
            ("Spam Reporting Address", true),
            ("Spam Content (if spam checker app enabled)", false),
            ("Unsubscribed Address", false),
            ("Invalid SMTPAPI header", false),
        ] {
            let kind = DeliveryEventKind::Dropped {
                reason: reason.into(),
            };
            assert_eq!(kind.suppression_reason().is_some(), suppresses, "{reason}");
        }
        for kind in [
            DeliveryEventKind::Delivered,
            DeliveryEventKind::Opened,
            DeliveryEventKind::Unsubscribed,
            DeliveryEventKind::Other("x".into()),
        ] {
            assert_eq!(kind.suppression_reason(), None, "{kind:?}");
        }
    }

    #[test]
    fn the_latest_meaningful_event_is_the_status() {
        let events = [
            event("1", "m", DeliveryEventKind::Processed, 0),
            event("3", "m", DeliveryEventKind::Opened, 20),
            // Arrives after the open but happened before it: order of arrival does not matter.
            event("2", "m", DeliveryEventKind::Delivered, 10),
            event("4", "m", DeliveryEventKind::Unsubscribed, 30),
        ];
        assert_eq!(status_from_events(&events), Some(DeliveryStatus::Opened));
        // At the same instant, the status further along wins.
        let tie = [
            event("1", "m", DeliveryEventKind::Clicked, 5),
            event("2", "m", DeliveryEventKind::Delivered, 5),
        ];
        assert_eq!(status_from_events(&tie), Some(DeliveryStatus::Clicked));
        let silent = [event("1", "m", DeliveryEventKind::Other("x".into()), 0)];
        assert_eq!(status_from_events(&silent), None);
    }

    #[cfg(feature = "conformance")]
    #[tokio::test]
    async fn the_memory_store_honours_the_contract() {
        delivery_status_store_conformance(&InMemoryDeliveryEvents::new()).await;
        crate::suppression::suppression_list_conformance(&InMemorySuppressionList::new()).await;
    }

    #[tokio::test]
    async fn apply_records_once_and_suppresses_bounces() {
        let suppressions = InMemorySuppressionList::new();
        let statuses = InMemoryDeliveryEvents::new();
        let batch = [
            event("e1", "m-1", DeliveryEventKind::Delivered, 0),
            event("e2", "m-1", bounce(BounceType::Hard), 1),
        ];
        let applied = apply(&batch, &suppressions, &statuses).await.unwrap();
        assert_eq!(applied.recorded, 2);
        assert_eq!(applied.duplicates, 0);
        assert_eq!(applied.suppressed.len(), 1);
        let id = MessageId::new("m-1").unwrap();
        assert!(matches!(
            statuses.status(&id).await.unwrap(),
            Some(DeliveryStatus::Bounced { .. })
        ));
        let address = EmailAddress::parse("ada@example.com").unwrap();
        let suppression = suppressions.is_suppressed(&address).await.unwrap().unwrap();
        assert!(suppression.reason.starts_with("hard bounce"));
        assert_eq!(suppression.created_at, at(1));

        // Redelivered: nothing new recorded.
        let again = apply(&batch, &suppressions, &statuses).await.unwrap();
        assert_eq!(again.recorded, 0);
        assert_eq!(again.duplicates, 2);
        assert_eq!(statuses.len(), 2);

        let mut empty = event("", "m-1", DeliveryEventKind::Delivered, 0);
        assert!(matches!(
            apply(std::slice::from_ref(&empty), &suppressions, &statuses).await,
            Err(Error::Invalid(_))
        ));
        empty.provider_event_id = "e3".into();
        empty.message_id = None;
        apply(&[empty], &suppressions, &statuses).await.unwrap();
        assert_eq!(statuses.len(), 3);
    }
}
