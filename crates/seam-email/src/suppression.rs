//! The suppression list (addresses that bounced for good or complained, never mailed
//! again until lifted) and [`SuppressingEmailService`], the decorator that enforces it
//! and answers `status` from recorded delivery events.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_domain::EmailAddress;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::DeliveryStatusStore;
use crate::message::{EmailMessage, MessageId};
use crate::{DeliveryStatus, EmailService, SendReceipt};

/// The longest reason kept, in characters; longer reasons are cut.
pub const MAX_REASON_CHARS: usize = 500;

/// An address that must not be mailed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The address, lower case ([`suppression_key`]).
    pub address: String,
    /// Why (`hard bounce: 550 …`, `spam report`, `manual`…).
    pub reason: String,
    /// When it was first suppressed.
    pub created_at: DateTime<Utc>,
}

/// The key an address is suppressed under: the whole address lower case, so
/// `Ada@Example.com` and `ada@example.com` are one entry (providers treat them as one).
pub fn suppression_key(address: &EmailAddress) -> String {
    address.as_str().to_lowercase()
}

/// A reason as stored: trimmed, at most [`MAX_REASON_CHARS`] characters, never empty.
pub fn normalize_reason(reason: &str) -> String {
    let reason = reason.trim();
    if reason.is_empty() {
        return "unspecified".to_owned();
    }
    reason.chars().take(MAX_REASON_CHARS).collect()
}

/// Addresses that must not be mailed.
///
/// # Contract
///
/// - Addresses are compared case-insensitively ([`suppression_key`]).
/// - `suppress` MUST be idempotent: suppressing an address already suppressed MUST keep
///   the first entry (reason and time) and return it.
/// - `is_suppressed` MUST return the entry of a suppressed address and `None` for any
///   other, including one that was lifted.
/// - `lift` MUST return `true` when the address was suppressed and `false` otherwise.
/// - `list` MUST return at most `limit` entries, newest first, and MUST return
///   [`Error::Invalid`] when `limit` is 0 or above 1000.
/// - Reasons are stored as [`normalize_reason`] gives them.
/// - Failures of the store MUST be [`Error::Transient`] when a retry may succeed.
#[async_trait]
pub trait SuppressionList: Debug + Send + Sync + 'static {
    /// Suppresses `address` for `reason` from `at`; answers the entry kept.
    async fn suppress(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Suppression>;

    /// The entry of `address`, when it is suppressed.
    async fn is_suppressed(&self, address: &EmailAddress) -> Result<Option<Suppression>>;

    /// Removes `address` from the list; `false` when it was not on it.
    async fn lift(&self, address: &EmailAddress) -> Result<bool>;

    /// Up to `limit` entries, newest first.
    async fn list(&self, limit: usize) -> Result<Vec<Suppression>>;
}

/// Checks a `list` limit as the contract says.
///
/// # Errors
///
/// [`Error::Invalid`] when `limit` is 0 or above 1000.
pub fn check_limit(limit: usize) -> Result<()> {
    if limit == 0 || limit > 1000 {
        return Err(Error::invalid("limit must be between 1 and 1000"));
    }
    Ok(())
}

/// A [`SuppressionList`] in memory: the fake for tests and single-process use.
#[derive(Debug, Default)]
pub struct InMemorySuppressionList {
    entries: Mutex<HashMap<String, Suppression>>,
}

impl InMemorySuppressionList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Suppression>> {
        // Every update is one insert or remove: a panic cannot leave it half-done.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SuppressionList for InMemorySuppressionList {
    async fn suppress(
        &self,
        address: &EmailAddress,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Suppression> {
        let key = suppression_key(address);
        Ok(self
            .entries()
            .entry(key.clone())
            .or_insert_with(|| Suppression {
                address: key,
                reason: normalize_reason(reason),
                created_at: at,
            })
            .clone())
    }

    async fn is_suppressed(&self, address: &EmailAddress) -> Result<Option<Suppression>> {
        Ok(self.entries().get(&suppression_key(address)).cloned())
    }

    async fn lift(&self, address: &EmailAddress) -> Result<bool> {
        Ok(self.entries().remove(&suppression_key(address)).is_some())
    }

    async fn list(&self, limit: usize) -> Result<Vec<Suppression>> {
        check_limit(limit)?;
        let mut entries: Vec<Suppression> = self.entries().values().cloned().collect();
        entries.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| a.address.cmp(&b.address))
        });
        entries.truncate(limit);
        Ok(entries)
    }
}

/// An [`EmailService`] that refuses suppressed recipients and answers `status` from
/// recorded delivery events.
///
/// - `send` checks every recipient (`to`, `cc` and `bcc`) first. If any is suppressed
///   the whole message is refused with [`Error::Permanent`] naming the address and the
///   reason, and the inner service is not called: sending to the others only would
///   deliver a message whose visible recipient list is not the one written, so the
///   caller decides (drop the address and send again, or lift it). A failure of the
///   list itself is returned as is ([`Error::Transient`] for a database hiccup): the
///   message is not sent unchecked.
/// - `send_bulk` checks each message the same way; refused messages fail alone.
/// - `status` answers from the [`DeliveryStatusStore`] when it knows something about
///   the message, else asks the inner service.
#[derive(Debug, Clone)]
pub struct SuppressingEmailService<E> {
    inner: E,
    suppressions: Arc<dyn SuppressionList>,
    statuses: Arc<dyn DeliveryStatusStore>,
}

impl<E: EmailService> SuppressingEmailService<E> {
    /// Wraps `inner`.
    pub fn new(
        inner: E,
        suppressions: Arc<dyn SuppressionList>,
        statuses: Arc<dyn DeliveryStatusStore>,
    ) -> Self {
        Self {
            inner,
            suppressions,
            statuses,
        }
    }

    /// The wrapped service.
    pub fn inner(&self) -> &E {
        &self.inner
    }

    async fn check(&self, message: &EmailMessage) -> Result<()> {
        for recipient in message.recipients() {
            if let Some(entry) = self.suppressions.is_suppressed(recipient.address()).await? {
                return Err(Error::permanent(format!(
                    "recipient {} is suppressed since {} ({}); lift it from the suppression list to send again",
                    recipient.address(),
                    entry.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
                    entry.reason
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<E: EmailService> EmailService for SuppressingEmailService<E> {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt> {
        self.check(message).await?;
        self.inner.send(message).await
    }

    async fn send_bulk(&self, messages: &[EmailMessage]) -> Vec<Result<SendReceipt>> {
        let mut results: Vec<Option<Result<SendReceipt>>> = Vec::with_capacity(messages.len());
        let mut allowed = Vec::new();
        for message in messages {
            match self.check(message).await {
                Ok(()) => {
                    results.push(None);
                    allowed.push(message.clone());
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        // The allowed ones go in one batch, so an inner batch API stays in use.
        let mut sent = self.inner.send_bulk(&allowed).await.into_iter();
        results
            .into_iter()
            .map(|result| {
                result.unwrap_or_else(|| {
                    sent.next().unwrap_or_else(|| {
                        Err(Error::transient(
                            "the e-mail service returned fewer results than messages",
                        ))
                    })
                })
            })
            .collect()
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus> {
        match self.statuses.status(id).await? {
            Some(status) => Ok(status),
            None => self.inner.status(id).await,
        }
    }
}

/// The contract checks every [`SuppressionList`] runs (feature `conformance`), on a
/// list that holds no address under `@conformance.example`.
///
/// # Panics
///
/// When the list breaks its contract.
#[cfg(feature = "conformance")]
pub async fn suppression_list_conformance(list: &dyn SuppressionList) {
    use chrono::TimeZone;

    let unique = MessageId::generate();
    let address = |local: &str| {
        EmailAddress::parse(&format!("{local}-{unique}@conformance.example")).expect("address")
    };
    let at = |second: i64| {
        Utc.timestamp_opt(1_700_000_000 + second, 0)
            .single()
            .expect("time")
    };
    let ada = address("Ada");
    let ada_lower = EmailAddress::parse(&ada.as_str().to_lowercase()).expect("address");
    let bob = address("bob");

    assert_eq!(list.is_suppressed(&ada).await.expect("is_suppressed"), None);
    let first = list
        .suppress(&ada, "  hard bounce: 550 5.1.1  ", at(10))
        .await
        .expect("suppress");
    assert_eq!(
        first.address,
        suppression_key(&ada),
        "the key is lower case"
    );
    assert_eq!(
        first.reason, "hard bounce: 550 5.1.1",
        "the reason is trimmed"
    );
    assert_eq!(first.created_at, at(10));
    let again = list
        .suppress(&ada_lower, "spam report", at(20))
        .await
        .expect("suppress again");
    assert_eq!(again, first, "suppressing again keeps the first entry");
    assert_eq!(
        list.is_suppressed(&ada_lower).await.expect("is_suppressed"),
        Some(first.clone()),
        "addresses compare case-insensitively"
    );
    let long = "x".repeat(MAX_REASON_CHARS + 50);
    let second = list.suppress(&bob, &long, at(30)).await.expect("suppress");
    assert_eq!(second.reason.chars().count(), MAX_REASON_CHARS);

    let listed: Vec<Suppression> = list
        .list(1000)
        .await
        .expect("list")
        .into_iter()
        .filter(|entry| entry.address.contains(&unique.to_string()))
        .collect();
    assert_eq!(listed, vec![second.clone(), first.clone()], "newest first");
    assert_eq!(list.list(1).await.expect("list").len(), 1);
    for limit in [0, 1001] {
        assert!(
            matches!(list.list(limit).await, Err(Error::Invalid(_))),
            "limit {limit} is refused"
        );
    }

    assert!(list.lift(&ada_lower).await.expect("lift"));
    assert!(!list.lift(&ada).await.expect("lift again"));
    assert_eq!(list.is_suppressed(&ada).await.expect("is_suppressed"), None);
    assert!(list.lift(&bob).await.expect("lift"));
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use seam_core::{Classify, ErrorKind};

    use super::*;
    use crate::InMemoryEmail;
    use crate::events::{BounceType, DeliveryEvent, DeliveryEventKind, InMemoryDeliveryEvents};

    fn address(text: &str) -> EmailAddress {
        EmailAddress::parse(text).unwrap()
    }

    fn message(to: &str, cc: Option<&str>) -> EmailMessage {
        let mut builder = EmailMessage::builder()
            .from(address("shop@example.com"))
            .to(address(to))
            .subject("Your order")
            .text("Thanks");
        if let Some(cc) = cc {
            builder = builder.cc(address(cc));
        }
        builder.build().unwrap()
    }

    fn at(second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + second, 0).unwrap()
    }

    struct Fixture {
        inner: Arc<InMemoryEmail>,
        suppressions: Arc<InMemorySuppressionList>,
        statuses: Arc<InMemoryDeliveryEvents>,
        service: SuppressingEmailService<Arc<InMemoryEmail>>,
    }

    fn fixture() -> Fixture {
        let inner = Arc::new(InMemoryEmail::new());
        let suppressions = Arc::new(InMemorySuppressionList::new());
        let statuses = Arc::new(InMemoryDeliveryEvents::new());
        let service =
            SuppressingEmailService::new(inner.clone(), suppressions.clone(), statuses.clone());
        Fixture {
            inner,
            suppressions,
            statuses,
            service,
        }
    }

    #[tokio::test]
    async fn the_memory_list_keeps_the_first_entry_case_insensitively() {
        let list = InMemorySuppressionList::new();
        let first = list
            .suppress(&address("Ada@Example.com"), "  hard bounce: 550  ", at(1))
            .await
            .unwrap();
        assert_eq!(first.address, "ada@example.com");
        assert_eq!(first.reason, "hard bounce: 550");
        let again = list
            .suppress(&address("ada@example.com"), "spam report", at(2))
            .await
            .unwrap();
        assert_eq!(again, first);
        list.suppress(&address("bob@example.com"), "", at(3))
            .await
            .unwrap();
        let listed = list.list(10).await.unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].address, "bob@example.com");
        assert_eq!(listed[0].reason, "unspecified");
        assert_eq!(list.list(1).await.unwrap().len(), 1);
        assert!(matches!(list.list(0).await, Err(Error::Invalid(_))));
        assert!(list.lift(&address("ADA@example.com")).await.unwrap());
        assert!(!list.lift(&address("ada@example.com")).await.unwrap());
        assert_eq!(
            list.is_suppressed(&address("ada@example.com"))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_suppressed_recipient_is_refused_without_calling_the_inner_service() {
        let f = fixture();
        f.suppressions
            .suppress(&address("bounced@example.com"), "hard bounce: 550", at(0))
            .await
            .unwrap();
        // A suppressed cc refuses the whole message.
        let error = f
            .service
            .send(&message("ada@example.com", Some("Bounced@example.com")))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Permanent);
        let text = error.to_string();
        assert!(text.contains("Bounced@example.com"), "{text}");
        assert!(text.contains("hard bounce: 550"), "{text}");
        assert!(f.inner.sent().is_empty());

        f.service
            .send(&message("ada@example.com", None))
            .await
            .unwrap();
        assert_eq!(f.inner.sent().len(), 1);

        let results = f
            .service
            .send_bulk(&[
                message("bounced@example.com", None),
                message("bob@example.com", None),
            ])
            .await;
        assert!(matches!(results[0], Err(Error::Permanent { .. })));
        assert!(results[1].is_ok());
        assert_eq!(f.inner.sent().len(), 2);

        f.suppressions
            .lift(&address("bounced@example.com"))
            .await
            .unwrap();
        f.service
            .send(&message("bounced@example.com", None))
            .await
            .unwrap();
        assert_eq!(f.inner.sent().len(), 3);
    }

    #[tokio::test]
    async fn status_comes_from_recorded_events_first() {
        let f = fixture();
        let receipt = f
            .service
            .send(&message("ada@example.com", None))
            .await
            .unwrap();
        assert_eq!(
            f.service.status(&receipt.message_id).await.unwrap(),
            DeliveryStatus::Accepted
        );
        f.statuses
            .record(&DeliveryEvent {
                message_id: Some(receipt.message_id.clone()),
                recipient: address("ada@example.com"),
                kind: DeliveryEventKind::Bounced {
                    reason: "550".into(),
                    bounce_type: BounceType::Hard,
                },
                occurred_at: at(5),
                provider_event_id: "e1".into(),
            })
            .await
            .unwrap();
        assert_eq!(
            f.service.status(&receipt.message_id).await.unwrap(),
            DeliveryStatus::Bounced {
                reason: "550".into()
            }
        );
        assert!(matches!(
            f.service.status(&MessageId::generate()).await,
            Err(Error::NotFound(_))
        ));
    }
}
