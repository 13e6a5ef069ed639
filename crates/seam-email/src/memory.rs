//! An in-memory adapter: records what was sent, fails on request. The fake for tests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::message::{EmailMessage, MessageId};
use crate::{DeliveryStatus, EmailService, SendReceipt};

/// A message the in-memory adapter accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentEmail {
    /// The id returned in the receipt.
    pub message_id: MessageId,
    /// When it was accepted.
    pub accepted_at: DateTime<Utc>,
    /// The message as given.
    pub message: EmailMessage,
}

#[derive(Debug, Default)]
struct State {
    sent: Vec<SentEmail>,
    statuses: HashMap<MessageId, DeliveryStatus>,
    failures: VecDeque<Error>,
}

/// An [`EmailService`] that keeps sent messages in memory.
///
/// It honours the same contract as the real adapters: every accepted message gets a
/// unique id and the status [`DeliveryStatus::Accepted`], unknown ids are
/// [`Error::NotFound`]. It deduplicates: a message whose caller-chosen id was already
/// sent is answered with the first receipt and not recorded again. Tests script failures with [`fail_next`](Self::fail_next) and
/// delivery events with [`set_status`](Self::set_status).
///
/// ```
/// # tokio_test_block_on(async {
/// use seam_domain::EmailAddress;
/// use seam_email::{EmailMessage, EmailService, Error, InMemoryEmail};
///
/// let email = InMemoryEmail::new();
/// let message = EmailMessage::builder()
///     .from(EmailAddress::parse("shop@example.com").unwrap())
///     .to(EmailAddress::parse("ada@example.com").unwrap())
///     .subject("Hello")
///     .text("Hi")
///     .build()
///     .unwrap();
/// email.fail_next(Error::transient("relay busy"));
/// assert!(email.send(&message).await.is_err());
/// email.send(&message).await.unwrap();
/// assert_eq!(email.sent().len(), 1);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug, Default)]
pub struct InMemoryEmail {
    state: Mutex<State>,
}

impl InMemoryEmail {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated: every
        // update is a single push or insert.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Everything accepted so far, in order.
    pub fn sent(&self) -> Vec<SentEmail> {
        self.state().sent.clone()
    }

    /// Makes the next call to `send` fail with `error` (calls queue up, first in first out).
    /// A failed send records nothing.
    pub fn fail_next(&self, error: Error) {
        self.state().failures.push_back(error);
    }

    /// Sets the status of a sent message, as a delivery event would.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no message with this id was sent.
    pub fn set_status(&self, id: &MessageId, status: DeliveryStatus) -> Result<()> {
        match self.state().statuses.get_mut(id) {
            Some(current) => {
                *current = status;
                Ok(())
            }
            None => Err(Error::NotFound(id.clone())),
        }
    }

    /// Forgets everything sent and every scripted failure.
    pub fn clear(&self) {
        *self.state() = State::default();
    }
}

#[async_trait]
impl EmailService for InMemoryEmail {
    async fn send(&self, message: &EmailMessage) -> Result<SendReceipt> {
        let mut state = self.state();
        if let Some(error) = state.failures.pop_front() {
            return Err(error);
        }
        if let Some(id) = message.message_id()
            && let Some(earlier) = state.sent.iter().find(|sent| &sent.message_id == id)
        {
            // The same message again: already delivered, not recorded twice.
            return Ok(SendReceipt {
                message_id: earlier.message_id.clone(),
                accepted_at: earlier.accepted_at,
            });
        }
        let receipt = SendReceipt {
            message_id: message
                .message_id()
                .cloned()
                .unwrap_or_else(MessageId::generate),
            accepted_at: Utc::now(),
        };
        state
            .statuses
            .insert(receipt.message_id.clone(), DeliveryStatus::Accepted);
        state.sent.push(SentEmail {
            message_id: receipt.message_id.clone(),
            accepted_at: receipt.accepted_at,
            message: message.clone(),
        });
        Ok(receipt)
    }

    async fn status(&self, id: &MessageId) -> Result<DeliveryStatus> {
        self.state()
            .statuses
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use seam_core::{Classify, ErrorKind};
    use seam_domain::EmailAddress;

    use super::*;

    fn message(subject: &str) -> EmailMessage {
        EmailMessage::builder()
            .from(EmailAddress::parse("shop@example.com").unwrap())
            .to(EmailAddress::parse("ada@example.com").unwrap())
            .subject(subject)
            .text("Hi")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn scripted_failures_come_in_order_and_record_nothing() {
        let email = InMemoryEmail::new();
        email.fail_next(Error::transient("busy"));
        email.fail_next(Error::RateLimited { retry_after: None });
        let results = email
            .send_bulk(&[message("a"), message("b"), message("c")])
            .await;
        assert_eq!(
            results[0].as_ref().unwrap_err().kind(),
            ErrorKind::Transient
        );
        assert!(matches!(results[1], Err(Error::RateLimited { .. })));
        let receipt = results[2].as_ref().unwrap();
        let sent = email.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].message.subject(), "c");
        assert_eq!(sent[0].message_id, receipt.message_id);
    }

    #[tokio::test]
    async fn statuses_follow_events() {
        let email = InMemoryEmail::new();
        let receipt = email.send(&message("a")).await.unwrap();
        assert_eq!(
            email.status(&receipt.message_id).await.unwrap(),
            DeliveryStatus::Accepted
        );
        let bounced = DeliveryStatus::Bounced {
            reason: "550 no such user".into(),
        };
        email
            .set_status(&receipt.message_id, bounced.clone())
            .unwrap();
        assert_eq!(email.status(&receipt.message_id).await.unwrap(), bounced);
        let unknown = MessageId::generate();
        assert!(matches!(
            email.set_status(&unknown, DeliveryStatus::Delivered),
            Err(Error::NotFound(_))
        ));
        email.clear();
        assert!(matches!(
            email.status(&receipt.message_id).await,
            Err(Error::NotFound(_))
        ));
    }
}
