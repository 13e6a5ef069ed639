//! An in-memory broker that honours the queue contract: topic routing, visibility
//! timeout, delayed retries and dead letters. The mock for tests and a single-process
//! default; nothing survives the process.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_core::{SharedClock, SystemClock};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::topology::{QueueBinding, route};
use crate::{Acker, Consumer, DeadLetter, DeadLetters, Delivery, Envelope, Publisher};

/// Settings of a [`MemoryQueue`].
#[derive(Debug, Clone)]
pub struct MemoryQueueConfig {
    /// The queues and the routing-key patterns that reach them.
    pub bindings: Vec<QueueBinding>,
    /// How long a delivery stays leased before an unsettled message is delivered again.
    pub visibility_timeout: Duration,
}

impl MemoryQueueConfig {
    /// `bindings` with a 30 s visibility timeout.
    pub fn new(bindings: Vec<QueueBinding>) -> Self {
        Self {
            bindings,
            visibility_timeout: Duration::from_secs(30),
        }
    }

    /// Checks the settings.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a zero visibility timeout, or a binding with a blank queue
    /// or pattern.
    pub fn validate(&self) -> Result<()> {
        if self.visibility_timeout.is_zero() {
            return Err(Error::invalid(
                "queue.visibility_timeout must be greater than zero",
            ));
        }
        for binding in &self.bindings {
            if binding.queue.trim().is_empty() || binding.pattern.trim().is_empty() {
                return Err(Error::invalid(format!(
                    "queue binding {binding:?} has a blank queue or pattern"
                )));
            }
        }
        Ok(())
    }
}

/// An in-memory [`Publisher`], [`Consumer`] and [`DeadLetters`] store.
///
/// Time comes from a [`Clock`](seam_core::Clock): with a
/// [`ManualClock`](seam_core::ManualClock), delays and visibility timeouts pass only when
/// the clock moves, and a `receive` that waits moves the clock forward (manual sleeps
/// advance it) up to the moment a message becomes due or its `wait` ends — so tests never
/// sleep for real. Clones share the same broker.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use seam_queue::{Consumer, Envelope, MemoryQueue, MemoryQueueConfig, Publisher, QueueBinding};
///
/// let queue = MemoryQueue::new(MemoryQueueConfig::new(vec![QueueBinding::new("orders", "order.*")]))
///     .unwrap();
/// queue.publish("order.placed", &Envelope::new("order.placed", serde_json::json!({}))).await.unwrap();
/// let delivery = queue.receive("orders", Duration::ZERO).await.unwrap().unwrap();
/// delivery.ack().await.unwrap();
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MemoryQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: MemoryQueueConfig,
    clock: SharedClock,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    queues: HashMap<String, Vec<Stored>>,
    dead: Vec<DeadLetter>,
}

#[derive(Debug)]
struct Stored {
    id: Uuid,
    envelope: Envelope,
    deliveries: u32,
    available_at: Instant,
    lease: Option<(Uuid, Instant)>,
    first_failed_at: Option<DateTime<Utc>>,
    last_failed_at: Option<DateTime<Utc>>,
}

impl Stored {
    /// When this message can next be claimed.
    fn due_at(&self) -> Instant {
        match self.lease {
            Some((_, until)) => until.max(self.available_at),
            None => self.available_at,
        }
    }
}

impl MemoryQueue {
    /// A broker on the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the configuration is invalid.
    pub fn new(config: MemoryQueueConfig) -> Result<Self> {
        Self::with_clock(config, SystemClock::shared())
    }

    /// A broker on `clock`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the configuration is invalid.
    pub fn with_clock(config: MemoryQueueConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        let mut state = State::default();
        for binding in &config.bindings {
            state.queues.entry(binding.queue.clone()).or_default();
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                clock,
                state: Mutex::new(state),
                changed: Notify::new(),
            }),
        })
    }

    /// How many messages `queue` holds (available, delayed or leased).
    pub fn len(&self, queue: &str) -> usize {
        self.inner.state().queues.get(queue).map_or(0, Vec::len)
    }

    /// Whether `queue` holds no message.
    pub fn is_empty(&self, queue: &str) -> bool {
        self.len(queue) == 0
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // Every update under this lock completes before it is released; a panic in a
        // test elsewhere must not wedge the broker.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn wall_now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    /// Settles the delivery `(queue, id, lease)` with `settle`, if it still holds the lease.
    fn settle<T>(
        &self,
        queue: &str,
        id: Uuid,
        lease: Uuid,
        settle: impl FnOnce(&mut State, usize) -> T,
    ) -> Result<T> {
        let mut state = self.state();
        let messages = state.queues.entry(queue.to_owned()).or_default();
        let Some(index) = messages
            .iter()
            .position(|m| m.id == id && m.lease.is_some_and(|(held, _)| held == lease))
        else {
            let message_id = messages
                .iter()
                .find(|m| m.id == id)
                .map_or(id, |m| m.envelope.message_id);
            return Err(Error::LeaseExpired { message_id });
        };
        let result = settle(&mut state, index);
        drop(state);
        self.changed.notify_waiters();
        Ok(result)
    }
}

#[async_trait]
impl Publisher for MemoryQueue {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()> {
        envelope.validate()?;
        let queues = route(&self.inner.config.bindings, routing_key)?;
        let now = self.inner.clock.now();
        {
            let mut state = self.inner.state();
            for queue in queues {
                state
                    .queues
                    .entry(queue.to_owned())
                    .or_default()
                    .push(Stored {
                        id: Uuid::now_v7(),
                        envelope: envelope.clone(),
                        deliveries: 0,
                        available_at: now,
                        lease: None,
                        first_failed_at: None,
                        last_failed_at: None,
                    });
            }
        }
        self.inner.changed.notify_waiters();
        Ok(())
    }
}

#[async_trait]
impl Consumer for MemoryQueue {
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>> {
        if !self.inner.config.bindings.iter().any(|b| b.queue == queue) {
            return Err(Error::not_found(format!("queue `{queue}`")));
        }
        let clock = &self.inner.clock;
        let deadline = clock.now() + wait;
        loop {
            // Registered before looking, so a publish between the look and the wait wakes us.
            let mut changed = pin!(self.inner.changed.notified());
            changed.as_mut().enable();
            let now = clock.now();
            let next_due = {
                let mut state = self.inner.state();
                let messages = state.queues.entry(queue.to_owned()).or_default();
                if let Some(message) = messages.iter_mut().find(|m| m.due_at() <= now) {
                    let lease = Uuid::now_v7();
                    message.lease = Some((lease, now + self.inner.config.visibility_timeout));
                    message.deliveries += 1;
                    let acker = MemoryAcker {
                        inner: Arc::clone(&self.inner),
                        queue: queue.to_owned(),
                        id: message.id,
                        lease,
                    };
                    return Ok(Some(Delivery::new(
                        message.envelope.clone(),
                        queue,
                        message.deliveries,
                        Box::new(acker),
                    )));
                }
                messages.iter().map(Stored::due_at).min()
            };
            if now >= deadline {
                return Ok(None);
            }
            let mut step = deadline - now;
            if let Some(due) = next_due {
                step = step.min(due.saturating_duration_since(now));
            }
            let sleep = clock.sleep(step);
            futures::future::select(changed, sleep).await;
        }
    }
}

#[derive(Debug)]
struct MemoryAcker {
    inner: Arc<Inner>,
    queue: String,
    id: Uuid,
    lease: Uuid,
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn ack(self: Box<Self>) -> Result<()> {
        self.inner
            .settle(&self.queue, self.id, self.lease, |state, index| {
                if let Some(messages) = state.queues.get_mut(&self.queue) {
                    messages.remove(index);
                }
            })
    }

    async fn retry(self: Box<Self>, after: Duration, reason: &str) -> Result<()> {
        let now = self.inner.clock.now();
        let wall = self.inner.wall_now();
        let _ = reason; // Only the dead letter keeps a reason; the memory broker logs nothing.
        self.inner
            .settle(&self.queue, self.id, self.lease, |state, index| {
                if let Some(message) = state
                    .queues
                    .get_mut(&self.queue)
                    .and_then(|messages| messages.get_mut(index))
                {
                    message.lease = None;
                    message.available_at = now + after;
                    message.envelope.attempt += 1;
                    message.first_failed_at.get_or_insert(wall);
                    message.last_failed_at = Some(wall);
                }
            })
    }

    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<()> {
        let wall = self.inner.wall_now();
        self.inner
            .settle(&self.queue, self.id, self.lease, |state, index| {
                if let Some(messages) = state.queues.get_mut(&self.queue) {
                    let message = messages.remove(index);
                    state.dead.push(DeadLetter::new(
                        Uuid::now_v7(),
                        self.queue.clone(),
                        message.envelope,
                        reason,
                        message.deliveries,
                        message.first_failed_at.unwrap_or(wall),
                        wall,
                        wall,
                    ));
                }
            })
    }
}

#[async_trait]
impl DeadLetters for MemoryQueue {
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>> {
        Ok(self
            .inner
            .state()
            .dead
            .iter()
            .filter(|dead| dead.queue == queue)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn get(&self, id: Uuid) -> Result<DeadLetter> {
        self.inner
            .state()
            .dead
            .iter()
            .find(|dead| dead.id == id)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("dead letter {id}")))
    }

    async fn replay(&self, id: Uuid) -> Result<()> {
        {
            let mut state = self.inner.state();
            let index = state
                .dead
                .iter()
                .position(|dead| dead.id == id)
                .ok_or_else(|| Error::not_found(format!("dead letter {id}")))?;
            let dead = state.dead.remove(index);
            let now = self.inner.clock.now();
            requeue(&mut state, dead, now);
        }
        self.inner.changed.notify_waiters();
        Ok(())
    }

    async fn replay_all(&self, queue: &str) -> Result<u64> {
        let count = {
            let mut state = self.inner.state();
            let (replayed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut state.dead)
                .into_iter()
                .partition(|dead| dead.queue == queue);
            state.dead = kept;
            let now = self.inner.clock.now();
            let count = replayed.len() as u64;
            for dead in replayed {
                requeue(&mut state, dead, now);
            }
            count
        };
        self.inner.changed.notify_waiters();
        Ok(count)
    }

    async fn purge(&self, queue: &str) -> Result<u64> {
        let mut state = self.inner.state();
        let before = state.dead.len();
        state.dead.retain(|dead| dead.queue != queue);
        Ok((before - state.dead.len()) as u64)
    }
}

fn requeue(state: &mut State, dead: DeadLetter, now: Instant) {
    let mut envelope = dead.envelope;
    envelope.attempt = 0;
    state.queues.entry(dead.queue).or_default().push(Stored {
        id: Uuid::now_v7(),
        envelope,
        deliveries: 0,
        available_at: now,
        lease: None,
        first_failed_at: None,
        last_failed_at: None,
    });
}

#[cfg(test)]
mod tests {
    use seam_core::ManualClock;

    use super::*;

    fn queue(clock: &ManualClock) -> MemoryQueue {
        MemoryQueue::with_clock(
            MemoryQueueConfig {
                bindings: vec![QueueBinding::new("q", "a.#")],
                visibility_timeout: Duration::from_secs(10),
            },
            clock.shared(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn an_empty_wait_moves_a_manual_clock_by_the_wait() {
        let clock = ManualClock::new();
        let queue = queue(&clock);
        assert!(
            queue
                .receive("q", Duration::from_secs(3))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(clock.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn a_wait_stops_as_soon_as_a_lease_expires() {
        let clock = ManualClock::new();
        let queue = queue(&clock);
        queue
            .publish("a.b", &Envelope::new("t", serde_json::Value::Null))
            .await
            .unwrap();
        drop(queue.receive("q", Duration::ZERO).await.unwrap().unwrap());
        let again = queue
            .receive("q", Duration::from_secs(60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.deliveries(), 2);
        assert_eq!(clock.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_publish_wakes_a_waiting_receive() {
        let queue =
            MemoryQueue::new(MemoryQueueConfig::new(vec![QueueBinding::new("q", "#")])).unwrap();
        let publisher = queue.clone();
        let (received, ()) = tokio::join!(queue.receive("q", Duration::from_secs(30)), async {
            tokio::task::yield_now().await;
            publisher
                .publish("x", &Envelope::new("t", serde_json::Value::Null))
                .await
                .unwrap();
        });
        assert!(received.unwrap().is_some());
    }

    #[test]
    fn config_is_validated() {
        let mut config = MemoryQueueConfig::new(vec![QueueBinding::new("q", "#")]);
        config.visibility_timeout = Duration::ZERO;
        assert!(MemoryQueue::new(config).is_err());
        assert!(
            MemoryQueue::new(MemoryQueueConfig::new(vec![QueueBinding::new(" ", "#")])).is_err()
        );
    }
}
