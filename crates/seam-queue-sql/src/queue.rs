//! [`SqlQueue`]: the port's traits over either backend.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use seam_core::{Classify, Health, HealthCheck, SharedClock, SystemClock};
use seam_queue::{
    Acker, Consumer, DeadLetter, DeadLetters, Delivery, Envelope, Error, Publisher, Result, route,
};
use seam_sql::{Database, Pool};
use seam_telemetry::PortMetrics;
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use crate::config::SqlQueueConfig;
use crate::error::SqlQueueError;
use crate::rows::{Claimed, DeadRow, Lease, NewMessage};
use crate::{ADAPTER, postgres, sqlite};

pub(crate) const METRICS: PortMetrics = PortMetrics::new("queue", ADAPTER);

/// The table queue: [`Publisher`], [`Consumer`] and [`DeadLetters`] on Postgres or SQLite.
///
/// Cheap to clone; clones share the pool. The schema must be migrated
/// ([`Database::migrate_up`]) before use.
#[derive(Debug, Clone)]
pub struct SqlQueue {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    config: SqlQueueConfig,
    clock: SharedClock,
    /// Wakes waiting `receive`s: on a publish or replay through this instance, and on
    /// Postgres also on a `NOTIFY` from any instance.
    wake: Arc<Notify>,
    /// The Postgres `LISTEN` task, started by the first `receive`.
    listener: OnceCell<ListenerTask>,
}

/// Aborts the listener task when the last handle on the queue goes.
#[derive(Debug)]
pub(crate) struct ListenerTask(tokio::task::JoinHandle<()>);

impl ListenerTask {
    pub(crate) fn new(task: tokio::task::JoinHandle<()>) -> Self {
        Self(task)
    }
}

impl Drop for ListenerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `$body` with `$pool` bound to the backend's pool, in the module `$module`.
macro_rules! on_backend {
    ($db:expr, |$module:ident, $pool:ident| $body:expr) => {
        match $db.pool() {
            Pool::Postgres($pool) => {
                use postgres as $module;
                $body
            }
            Pool::Sqlite($pool) => {
                use sqlite as $module;
                $body
            }
            _ => Err(SqlQueueError::corrupt(
                "database",
                "a backend this adapter does not support",
            )),
        }
    };
}

impl SqlQueue {
    /// A queue over `db` on the system clock.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the configuration is invalid (see [`SqlQueueConfig::validate`]).
    pub fn new(db: Database, config: SqlQueueConfig) -> Result<Self> {
        Self::with_clock(db, config, SystemClock::shared())
    }

    /// A queue over `db` whose timestamps and waits come from `clock`.
    ///
    /// # Errors
    ///
    /// As [`SqlQueue::new`].
    pub fn with_clock(db: Database, config: SqlQueueConfig, clock: SharedClock) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                config,
                clock,
                wake: Arc::new(Notify::new()),
                listener: OnceCell::new(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SqlQueueConfig {
        &self.inner.config
    }

    pub(crate) fn database(&self) -> &Database {
        &self.inner.db
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    /// Wakes this instance's waiting receives after a publish.
    pub(crate) fn published(&self) {
        self.inner.wake.notify_waiters();
    }
}

impl Inner {
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.system_time())
    }

    /// On Postgres, makes sure a task `LISTEN`s for publishes from every instance. Best
    /// effort: without it, `receive` still finds messages by polling.
    async fn ensure_listening(&self) {
        let Some(pool) = self.db.as_postgres() else {
            return;
        };
        let started = self
            .listener
            .get_or_try_init(|| postgres::listen(pool, Arc::clone(&self.wake)))
            .await;
        if let Err(error) = started {
            tracing::debug!(
                error.message = %error,
                "cannot LISTEN for queue notifications; polling only"
            );
        }
    }

    async fn claim(self: &Arc<Self>, queue: &str) -> Result<Option<Delivery>, SqlQueueError> {
        let now = self.now();
        let lease_end = now + self.config.visibility_timeout;
        let lease = Uuid::now_v7();
        let claimed: Option<Claimed> = on_backend!(self.db, |backend, pool| {
            backend::claim(pool, queue, now, lease_end, lease).await
        })?;
        let Some(claimed) = claimed else {
            return Ok(None);
        };
        let mut envelope: Envelope = serde_json::from_str(&claimed.envelope).map_err(|error| {
            SqlQueueError::corrupt("queue_messages", format!("row {}: {error}", claimed.id))
        })?;
        envelope.attempt = u32::try_from(claimed.attempt).unwrap_or(u32::MAX);
        let acker = SqlAcker {
            inner: Arc::clone(self),
            message_id: envelope.message_id,
            lease: Lease {
                id: claimed.id,
                lease,
            },
        };
        Ok(Some(Delivery::new(
            envelope,
            queue,
            u32::try_from(claimed.deliveries).unwrap_or(u32::MAX),
            Box::new(acker),
        )))
    }
}

fn to_dead_letter(row: DeadRow) -> Result<DeadLetter, SqlQueueError> {
    let envelope: Envelope = serde_json::from_str(&row.envelope).map_err(|error| {
        SqlQueueError::corrupt("queue_dead_letters", format!("row {}: {error}", row.id))
    })?;
    Ok(DeadLetter::new(
        row.id,
        row.queue,
        envelope,
        row.reason,
        u32::try_from(row.attempts).unwrap_or(u32::MAX),
        row.first_failed_at,
        row.last_failed_at,
        row.dead_lettered_at,
    ))
}

#[async_trait]
impl Publisher for SqlQueue {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()> {
        METRICS
            .call("publish", async {
                envelope.validate()?;
                let queues = route(&self.inner.config.bindings, routing_key)?;
                let json = serde_json::to_string(envelope).map_err(|error| Error::Invalid {
                    message: "the envelope cannot be serialised".to_owned(),
                    source: Some(error.into()),
                })?;
                let messages: Vec<NewMessage> = queues
                    .into_iter()
                    .map(|queue| NewMessage {
                        id: Uuid::now_v7(),
                        queue: queue.to_owned(),
                        message_id: envelope.message_id,
                        message_type: envelope.message_type.clone(),
                        routing_key: routing_key.to_owned(),
                        envelope: json.clone(),
                    })
                    .collect();
                let now = self.inner.now();
                on_backend!(self.inner.db, |backend, pool| {
                    backend::publish(pool, &messages, now).await
                })?;
                self.inner.wake.notify_waiters();
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl Consumer for SqlQueue {
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>> {
        METRICS
            .call("receive", async {
                let inner = &self.inner;
                if !inner.config.bindings.iter().any(|b| b.queue == queue) {
                    return Err(Error::not_found(format!("queue `{queue}`")));
                }
                let deadline = inner.clock.now() + wait;
                if !wait.is_zero() {
                    inner.ensure_listening().await;
                }
                loop {
                    // Registered before looking, so a publish between the look and the
                    // wait still wakes us.
                    let mut woken = pin!(inner.wake.notified());
                    woken.as_mut().enable();
                    if let Some(delivery) = inner.claim(queue).await? {
                        return Ok(Some(delivery));
                    }
                    let now = inner.clock.now();
                    if now >= deadline {
                        return Ok(None);
                    }
                    let nap = inner
                        .clock
                        .sleep(inner.config.poll_interval.min(deadline - now));
                    futures::future::select(woken, nap).await;
                }
            })
            .await
    }
}

#[derive(Debug)]
struct SqlAcker {
    inner: Arc<Inner>,
    message_id: Uuid,
    lease: Lease,
}

impl SqlAcker {
    fn settled(&self, done: bool) -> Result<()> {
        if done {
            Ok(())
        } else {
            Err(Error::LeaseExpired {
                message_id: self.message_id,
            })
        }
    }
}

#[async_trait]
impl Acker for SqlAcker {
    async fn ack(self: Box<Self>) -> Result<()> {
        METRICS
            .call("ack", async {
                let lease = self.lease;
                let done = on_backend!(self.inner.db, |backend, pool| {
                    backend::ack(pool, lease).await
                })?;
                self.settled(done)
            })
            .await
    }

    async fn retry(self: Box<Self>, after: Duration, reason: &str) -> Result<()> {
        METRICS
            .call("retry", async {
                let lease = self.lease;
                let now = self.inner.now();
                let available_at = now + after;
                let done = on_backend!(self.inner.db, |backend, pool| {
                    backend::retry(pool, lease, available_at, reason, now).await
                })?;
                self.settled(done)
            })
            .await
    }

    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<()> {
        METRICS
            .call("dead_letter", async {
                let lease = self.lease;
                let now = self.inner.now();
                let dead_id = Uuid::now_v7();
                let done = on_backend!(self.inner.db, |backend, pool| {
                    backend::dead_letter(pool, lease, dead_id, reason, now).await
                })?;
                if done {
                    tracing::warn!(
                        message_id = %self.message_id,
                        dead_letter_id = %dead_id,
                        reason,
                        "message dead-lettered"
                    );
                }
                self.settled(done)
            })
            .await
    }
}

#[async_trait]
impl DeadLetters for SqlQueue {
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>> {
        METRICS
            .call("dlq_list", async {
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = on_backend!(self.inner.db, |backend, pool| {
                    backend::list(pool, queue, limit).await
                })?;
                Ok(rows
                    .into_iter()
                    .map(to_dead_letter)
                    .collect::<Result<Vec<_>, _>>()?)
            })
            .await
    }

    async fn get(&self, id: Uuid) -> Result<DeadLetter> {
        METRICS
            .call("dlq_get", async {
                let row = on_backend!(self.inner.db, |backend, pool| {
                    backend::get(pool, id).await
                })?;
                match row {
                    Some(row) => Ok(to_dead_letter(row)?),
                    None => Err(Error::not_found(format!("dead letter {id}"))),
                }
            })
            .await
    }

    async fn replay(&self, id: Uuid) -> Result<()> {
        METRICS
            .call("dlq_replay", async {
                let now = self.inner.now();
                let done = on_backend!(self.inner.db, |backend, pool| {
                    backend::replay(pool, id, now).await
                })?;
                if done {
                    self.inner.wake.notify_waiters();
                    Ok(())
                } else {
                    Err(Error::not_found(format!("dead letter {id}")))
                }
            })
            .await
    }

    async fn replay_all(&self, queue: &str) -> Result<u64> {
        METRICS
            .call("dlq_replay_all", async {
                let now = self.inner.now();
                let count = on_backend!(self.inner.db, |backend, pool| {
                    backend::replay_all(pool, queue, now).await
                })?;
                self.inner.wake.notify_waiters();
                Ok(count)
            })
            .await
    }

    async fn purge(&self, queue: &str) -> Result<u64> {
        METRICS
            .call("dlq_purge", async {
                Ok(on_backend!(self.inner.db, |backend, pool| {
                    backend::purge(pool, queue).await
                })?)
            })
            .await
    }
}

/// `"queue"`: the queue table answers (up) or not (down, with the error kind and message);
/// down too when the schema is not migrated.
#[async_trait]
impl HealthCheck for SqlQueue {
    fn name(&self) -> &str {
        "queue"
    }

    async fn check(&self) -> Health {
        let result: Result<(), SqlQueueError> = on_backend!(self.inner.db, |backend, pool| {
            backend::check(pool).await
        });
        match result {
            Ok(()) => Health::up(),
            Err(error) => {
                let error = Error::from(error);
                Health::down(format!("{}: {error}", error.kind()))
            }
        }
    }
}
