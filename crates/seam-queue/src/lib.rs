//! The queue port: publish messages to topic-routed queues, consume them at least once,
//! retry with a delay, dead-letter what cannot be processed, and inspect and replay the
//! dead letters.
//!
//! - [`Envelope`]: the message and its metadata (id, type, schema version, correlation,
//!   trace context, attempt).
//! - [`QueueBinding`] / [`topic_matches`]: AMQP topic routing (`*` one word, `#` zero or more).
//! - [`Publisher`], [`Consumer`] (yielding a [`Delivery`] to [`ack`](Delivery::ack),
//!   [`retry`](Delivery::retry) or [`dead_letter`](Delivery::dead_letter)) and
//!   [`DeadLetters`] (the operator API behind `seam dlq`).
//! - [`memory::MemoryQueue`]: an in-memory broker honouring the same contract, driven by a
//!   [`Clock`](seam_core::Clock) so tests are deterministic.
//! - `conformance` (feature `conformance`): the suite every adapter runs.
//!
//! ## Delivery semantics
//!
//! At least once: a message is removed only when a delivery is acked (or moved by
//! `retry` / `dead_letter`). A delivery that is never settled (the consumer crashed or
//! dropped it) is delivered again once the adapter's *visibility timeout* has passed.
//! Settling a delivery whose lease has expired and that was redelivered fails with
//! [`Error::LeaseExpired`]: the newer delivery owns the message. Consumers must therefore
//! be idempotent (deduplicate on [`Envelope::message_id`]). Ordering is not guaranteed.

use std::fmt::{self, Debug};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use uuid::Uuid;

#[cfg(feature = "conformance")]
pub mod conformance;
mod envelope;
mod error;
pub mod memory;
mod topology;
mod unique;
#[cfg(feature = "conformance")]
pub mod unique_conformance;

pub use envelope::Envelope;
pub use error::{BoxError, Error, Result};
pub use memory::{MemoryQueue, MemoryQueueConfig};
pub use topology::{QueueBinding, route, topic_matches, validate_routing_key};
pub use unique::{
    DynUniquePublisher, MAX_DEDUPE_KEY_LEN, MemoryUniquePublisher, Published, UniquePublisher,
    validate_dedupe_key,
};

/// Publishes messages to the queues bound to a routing key.
#[async_trait]
pub trait Publisher: Debug + Send + Sync + 'static {
    /// Publishes `envelope` with `routing_key` to every queue whose binding matches it
    /// (one copy per queue).
    ///
    /// # Contract
    ///
    /// - MUST return only once the message is durably accepted by the broker (publisher
    ///   confirm / committed): after `Ok`, a crash of the publisher cannot lose it.
    /// - MUST return [`Error::Unroutable`] and publish nothing when no queue is bound to
    ///   `routing_key` (AMQP `mandatory`).
    /// - MUST return [`Error::Invalid`] for an empty routing key, one containing `*`/`#`,
    ///   or an envelope with a blank message type.
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()>;
}

/// Receives messages from a queue.
#[async_trait]
pub trait Consumer: Debug + Send + Sync + 'static {
    /// Takes the next available message of `queue`, waiting up to `wait` for one.
    ///
    /// # Contract
    ///
    /// - MUST return `Ok(None)` once `wait` has passed with nothing available (`wait` may
    ///   be zero: then it only looks).
    /// - MUST NOT return a message whose retry delay has not passed, nor one leased to
    ///   another delivery whose visibility timeout has not passed.
    /// - MUST deliver again, after the visibility timeout, a message whose delivery was
    ///   neither acked nor settled (dropped, or the consumer crashed).
    /// - MUST return [`Error::NotFound`] for a queue that no binding declares.
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>>;
}

/// The operator's view of messages that were dead-lettered: list, inspect, replay, purge.
#[async_trait]
pub trait DeadLetters: Debug + Send + Sync + 'static {
    /// The dead letters of `queue`, oldest first, at most `limit`.
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>>;

    /// One dead letter.
    ///
    /// # Contract
    ///
    /// - MUST return [`Error::NotFound`] when there is no dead letter `id`.
    async fn get(&self, id: Uuid) -> Result<DeadLetter>;

    /// Puts a dead letter back on its queue, available at once, with its attempt count reset.
    ///
    /// # Contract
    ///
    /// - MUST move it exactly once: the dead letter is gone afterwards, and a second
    ///   `replay` of the same id returns [`Error::NotFound`].
    async fn replay(&self, id: Uuid) -> Result<()>;

    /// Replays every dead letter of `queue`; returns how many.
    async fn replay_all(&self, queue: &str) -> Result<u64>;

    /// Deletes every dead letter of `queue`; returns how many.
    async fn purge(&self, queue: &str) -> Result<u64>;
}

/// A publisher, consumer and dead-letter store in one (what every adapter is).
pub trait Queue: Publisher + Consumer + DeadLetters {}

impl<T: Publisher + Consumer + DeadLetters> Queue for T {}

/// A [`Publisher`] shared between components.
pub type DynPublisher = dyn Publisher;
/// A [`Consumer`] shared between components.
pub type DynConsumer = dyn Consumer;
/// A [`DeadLetters`] store shared between components.
pub type DynDeadLetters = dyn DeadLetters;

#[async_trait]
impl<T: Publisher + ?Sized> Publisher for Arc<T> {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()> {
        (**self).publish(routing_key, envelope).await
    }
}

#[async_trait]
impl<T: Consumer + ?Sized> Consumer for Arc<T> {
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>> {
        (**self).receive(queue, wait).await
    }
}

#[async_trait]
impl<T: DeadLetters + ?Sized> DeadLetters for Arc<T> {
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>> {
        (**self).list(queue, limit).await
    }
    async fn get(&self, id: Uuid) -> Result<DeadLetter> {
        (**self).get(id).await
    }
    async fn replay(&self, id: Uuid) -> Result<()> {
        (**self).replay(id).await
    }
    async fn replay_all(&self, queue: &str) -> Result<u64> {
        (**self).replay_all(queue).await
    }
    async fn purge(&self, queue: &str) -> Result<u64> {
        (**self).purge(queue).await
    }
}

/// How an adapter settles one delivery. Implemented by each adapter; consumers use the
/// methods of [`Delivery`].
#[async_trait]
pub trait Acker: Debug + Send + Sync + 'static {
    /// Removes the message for good.
    async fn ack(self: Box<Self>) -> Result<()>;

    /// Makes the message available again after `after`, with its attempt increased by one,
    /// recording `reason` and the failure time.
    async fn retry(self: Box<Self>, after: Duration, reason: &str) -> Result<()>;

    /// Moves the message to the dead letters with `reason`.
    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<()>;
}

/// One message handed to a consumer, to be settled exactly once: [`ack`](Self::ack),
/// [`retry`](Self::retry) or [`dead_letter`](Self::dead_letter).
///
/// Dropping it unsettled leaves the message leased until the visibility timeout, after
/// which it is delivered again.
pub struct Delivery {
    envelope: Envelope,
    queue: String,
    deliveries: u32,
    acker: Box<dyn Acker>,
}

impl Delivery {
    /// Assembles a delivery (for adapters).
    pub fn new(
        envelope: Envelope,
        queue: impl Into<String>,
        deliveries: u32,
        acker: Box<dyn Acker>,
    ) -> Self {
        Self {
            envelope,
            queue: queue.into(),
            deliveries,
            acker,
        }
    }

    /// The message.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// The queue it came from.
    pub fn queue(&self) -> &str {
        &self.queue
    }

    /// How many times this message has been handed to a consumer, this delivery included
    /// (1 the first time; more after retries and after redeliveries of unsettled deliveries).
    pub fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// Whether an earlier delivery of this message happened (retried or never settled).
    pub fn is_redelivery(&self) -> bool {
        self.deliveries > 1
    }

    /// Decodes the payload; see [`Envelope::decode`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the payload does not decode into `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        self.envelope.decode()
    }

    /// Acknowledges: the message is processed and removed.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseExpired`] when the message was redelivered meanwhile; backend errors.
    pub async fn ack(self) -> Result<()> {
        self.acker.ack().await
    }

    /// Gives the message back to be delivered again after `after`, with
    /// [`Envelope::attempt`] increased by one; `reason` is kept as the last failure.
    ///
    /// # Errors
    ///
    /// As [`Delivery::ack`].
    pub async fn retry(self, after: Duration, reason: &str) -> Result<()> {
        self.acker.retry(after, reason).await
    }

    /// Moves the message to the dead letters, keeping `reason`, the number of deliveries
    /// and the first and last failure times.
    ///
    /// # Errors
    ///
    /// As [`Delivery::ack`].
    pub async fn dead_letter(self, reason: &str) -> Result<()> {
        self.acker.dead_letter(reason).await
    }
}

impl Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("message_id", &self.envelope.message_id)
            .field("message_type", &self.envelope.message_type)
            .field("queue", &self.queue)
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

/// A message that was given up on, kept for inspection and replay.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The dead letter's own id (not the message id).
    pub id: Uuid,
    /// The queue it was dead-lettered from, and to which a replay returns it.
    pub queue: String,
    /// The message, with its attempt as it was when dead-lettered.
    pub envelope: Envelope,
    /// Why it was dead-lettered.
    pub reason: String,
    /// How many times it had been delivered.
    pub attempts: u32,
    /// When processing it first failed (its first retry, or the dead-lettering itself).
    pub first_failed_at: DateTime<Utc>,
    /// When processing it last failed.
    pub last_failed_at: DateTime<Utc>,
    /// When it was dead-lettered.
    pub dead_lettered_at: DateTime<Utc>,
}

impl DeadLetter {
    /// Assembles a dead letter (for adapters).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: Uuid,
        queue: impl Into<String>,
        envelope: Envelope,
        reason: impl Into<String>,
        attempts: u32,
        first_failed_at: DateTime<Utc>,
        last_failed_at: DateTime<Utc>,
        dead_lettered_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            queue: queue.into(),
            envelope,
            reason: reason.into(),
            attempts,
            first_failed_at,
            last_failed_at,
            dead_lettered_at,
        }
    }
}
