//! Publishing at most once per key: deduplicated hand-off for inbound events whose
//! sender retries (webhooks), where the check and the publish must be one atomic step.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use seam_core::{SharedClock, SystemClock};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::{Envelope, Publisher};

/// The longest deduplication key accepted, in bytes.
pub const MAX_DEDUPE_KEY_LEN: usize = 512;

/// What [`UniquePublisher::publish_unique`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The key was new: the message was published and the key remembered.
    New,
    /// The key was seen within its time to live: nothing was published.
    Duplicate,
}

/// Checks a deduplication key and its time to live.
///
/// # Errors
///
/// [`Error::Invalid`] for a blank key, one longer than [`MAX_DEDUPE_KEY_LEN`] or holding
/// control characters, or a zero time to live.
pub fn validate_dedupe_key(key: &str, ttl: Duration) -> Result<()> {
    if key.trim().is_empty() {
        return Err(Error::invalid("the deduplication key is blank"));
    }
    if key.len() > MAX_DEDUPE_KEY_LEN {
        return Err(Error::invalid(format!(
            "the deduplication key is longer than {MAX_DEDUPE_KEY_LEN} bytes"
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid(
            "the deduplication key contains control characters",
        ));
    }
    if ttl.is_zero() {
        return Err(Error::invalid(
            "the deduplication time to live must be greater than zero",
        ));
    }
    Ok(())
}

/// Publishes a message unless one with the same deduplication key was published within
/// the key's time to live.
///
/// # Contract
///
/// - The check and the publish MUST be one atomic step: of any number of concurrent calls
///   with the same key, exactly one returns [`Published::New`] and publishes; the others
///   return [`Published::Duplicate`] and publish nothing.
/// - After `Ok(Published::New)`, the message is durably accepted exactly as
///   [`Publisher::publish`] promises; a failed call (`Err`) MUST leave neither the message
///   nor the key behind, so the sender's retry is published.
/// - A key MUST be remembered for at least `ttl` after it was first published, and MAY be
///   forgotten afterwards (the same key is then [`Published::New`] again).
/// - MUST return [`Error::Invalid`] for what [`validate_dedupe_key`] refuses, and
///   [`Error::Unroutable`] / [`Error::Invalid`] as [`Publisher::publish`] does; nothing is
///   remembered then.
#[async_trait]
pub trait UniquePublisher: Debug + Send + Sync + 'static {
    /// Publishes `envelope` with `routing_key` unless `dedupe_key` was seen; see the contract.
    async fn publish_unique(
        &self,
        dedupe_key: &str,
        ttl: Duration,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<Published>;
}

/// A [`UniquePublisher`] shared between components.
pub type DynUniquePublisher = dyn UniquePublisher;

#[async_trait]
impl<T: UniquePublisher + ?Sized> UniquePublisher for Arc<T> {
    async fn publish_unique(
        &self,
        dedupe_key: &str,
        ttl: Duration,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<Published> {
        (**self)
            .publish_unique(dedupe_key, ttl, routing_key, envelope)
            .await
    }
}

/// In-process deduplication in front of any [`Publisher`]: the keys live in a map
/// guarded by one lock held across the publish, so check-and-publish is atomic within
/// the process (and only there). The in-memory adapter of [`UniquePublisher`], normally
/// over a [`MemoryQueue`](crate::MemoryQueue); expired keys are swept as new ones arrive.
#[derive(Debug, Clone)]
pub struct MemoryUniquePublisher<P> {
    publisher: P,
    clock: SharedClock,
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl<P: Publisher> MemoryUniquePublisher<P> {
    /// Deduplicates in front of `publisher`, on the system clock.
    pub fn new(publisher: P) -> Self {
        Self::with_clock(publisher, SystemClock::shared())
    }

    /// Deduplicates in front of `publisher`, keys expiring by `clock`.
    pub fn with_clock(publisher: P, clock: SharedClock) -> Self {
        Self {
            publisher,
            clock,
            seen: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The publisher behind.
    pub fn inner(&self) -> &P {
        &self.publisher
    }
}

#[async_trait]
impl<P: Publisher> UniquePublisher for MemoryUniquePublisher<P> {
    async fn publish_unique(
        &self,
        dedupe_key: &str,
        ttl: Duration,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<Published> {
        validate_dedupe_key(dedupe_key, ttl)?;
        // Held across the publish: a concurrent duplicate must not answer `Duplicate`
        // for a publish that then fails.
        let mut seen = self.seen.lock().await;
        let now = self.clock.now();
        if seen.get(dedupe_key).is_some_and(|expires| *expires > now) {
            return Ok(Published::Duplicate);
        }
        self.publisher.publish(routing_key, envelope).await?;
        seen.retain(|_, expires| *expires > now);
        seen.insert(dedupe_key.to_owned(), now + ttl);
        Ok(Published::New)
    }
}
