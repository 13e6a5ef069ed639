//! What an adapter that cannot ask its upstream knows about the messages it sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use crate::DeliveryStatus;
use crate::error::{Error, Result};
use crate::message::MessageId;

/// The statuses of the most recent messages sent by this process, bounded in size.
///
/// SMTP cannot be asked about a message after it was accepted, and a provider's event
/// API may not be available: such adapters remember what they sent, so
/// [`crate::EmailService::status`] can answer [`DeliveryStatus::Accepted`] for their own
/// ids and [`Error::NotFound`] for anything else. The oldest ids are forgotten first.
#[derive(Debug)]
pub struct SentLog {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    order: VecDeque<MessageId>,
    statuses: HashMap<MessageId, DeliveryStatus>,
}

impl SentLog {
    /// The default capacity.
    pub const DEFAULT_CAPACITY: usize = 10_000;

    /// A log remembering at most `capacity` ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records that `id` was accepted.
    pub fn accepted(&self, id: MessageId) {
        self.set(id, DeliveryStatus::Accepted);
    }

    /// Records the status of `id` (new ids count towards the capacity).
    pub fn set(&self, id: MessageId, status: DeliveryStatus) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if !inner.statuses.contains_key(&id) {
            if inner.order.len() >= self.capacity
                && let Some(oldest) = inner.order.pop_front()
            {
                inner.statuses.remove(&oldest);
            }
            inner.order.push_back(id.clone());
        }
        inner.statuses.insert(id, status);
    }

    /// The last status recorded for `id`.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when `id` was never recorded, or was forgotten.
    pub fn status(&self, id: &MessageId) -> Result<DeliveryStatus> {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .statuses
            .get(id)
            .cloned()
            .ok_or_else(|| Error::NotFound(id.clone()))
    }

    /// How many ids are remembered.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .order
            .len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for SentLog {
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_the_most_recent_ids() {
        let log = SentLog::new(2);
        let [a, b, c] = [(); 3].map(|()| MessageId::generate());
        log.accepted(a.clone());
        log.accepted(b.clone());
        log.set(b.clone(), DeliveryStatus::Delivered);
        assert_eq!(log.len(), 2, "updating a status does not count twice");
        log.accepted(c.clone());
        assert!(matches!(log.status(&a), Err(Error::NotFound(_))));
        assert_eq!(log.status(&b).unwrap(), DeliveryStatus::Delivered);
        assert_eq!(log.status(&c).unwrap(), DeliveryStatus::Accepted);
        assert!(!log.is_empty());
    }
}
