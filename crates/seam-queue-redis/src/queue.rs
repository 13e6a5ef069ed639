//! The queue itself: publishing, receiving, settling and the dead letters.

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Value};
use seam_core::{ExposeSecret, Health, HealthCheck, SharedClock, SystemClock};
use seam_queue::{
    Acker, Consumer, DeadLetter, DeadLetters, Delivery, Envelope, Error, Publisher, Result, route,
};
use seam_telemetry::PortMetrics;
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::codec::{DeadRecord, Record};
use crate::config::RedisQueueConfig;
use crate::error::{ADAPTER, FULL, RedisQueueError};
use crate::scripts;

pub(crate) const METRICS: PortMetrics = PortMetrics::new("queue", ADAPTER);

/// How many due retries one `receive` moves back into a stream at most.
const PROMOTE_BATCH: usize = 100;
/// How many dead letters one purge script deletes at most (keeps each script short).
const PURGE_BATCH: usize = 500;
/// Connections kept for blocking reads; more concurrent receives open more, briefly.
const IDLE_BLOCKING_CONNECTIONS: usize = 8;

/// The Redis Streams queue. Cheap to clone; clones share connections.
///
/// Built with [`RedisQueueConfig::connect`]; see the crate documentation for the layout
/// and the delivery semantics.
#[derive(Clone)]
pub struct RedisQueue {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    connection: ConnectionManager,
    blocking: Mutex<Vec<MultiplexedConnection>>,
    config: RedisQueueConfig,
    queues: BTreeSet<String>,
    clock: SharedClock,
}

impl fmt::Debug for RedisQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisQueue")
            .field("key_prefix", &self.inner.config.key_prefix)
            .field("group", &self.inner.config.group)
            .field("consumer", &self.inner.config.consumer)
            .field("queues", &self.inner.queues)
            .finish_non_exhaustive()
    }
}

impl RedisQueue {
    pub(crate) async fn connect(mut config: RedisQueueConfig) -> Result<Self> {
        if config.consumer.is_empty() {
            config.consumer = format!("consumer-{}", Uuid::now_v7().simple());
        }
        let client = redis::Client::open(config.url.expose_secret().as_str())
            .map_err(|_| Error::invalid("`url`: not a valid Redis URL"))?;
        let manager_config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout));
        let connection = within(
            config.timeout,
            ConnectionManager::new_with_config(client.clone(), manager_config),
        )
        .await?;
        let queues = config
            .bindings
            .iter()
            .map(|binding| binding.queue.clone())
            .collect();
        let queue = Self {
            inner: Arc::new(Inner {
                client,
                connection,
                blocking: Mutex::new(Vec::new()),
                config,
                queues,
                clock: SystemClock::shared(),
            }),
        };
        for name in &queue.inner.queues {
            queue.create_group(name).await?;
        }
        Ok(queue)
    }

    /// The consumer name this process reads as.
    pub fn consumer_name(&self) -> &str {
        &self.inner.config.consumer
    }

    /// The stream key of `queue` (for operators and tests).
    pub fn stream_key(&self, queue: &str) -> String {
        self.key(queue, "stream")
    }

    /// Every key this queue may have written, for cleanup in tests and tools.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .inner
            .queues
            .iter()
            .flat_map(|queue| ["stream", "delayed", "dlq"].map(|suffix| self.key(queue, suffix)))
            .collect();
        keys.push(self.index_key());
        keys
    }

    /// How many messages wait in `queue` (in the stream, not yet acked, or waiting for a
    /// retry): the queue lag.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown queue; backend errors.
    pub async fn depth(&self, queue: &str) -> Result<u64> {
        self.known(queue)?;
        let mut connection = self.inner.connection.clone();
        let (stream, delayed): (u64, u64) = self
            .within(
                redis::pipe()
                    .cmd("XLEN")
                    .arg(self.key(queue, "stream"))
                    .cmd("ZCARD")
                    .arg(self.key(queue, "delayed"))
                    .query_async(&mut connection),
            )
            .await?;
        Ok(stream + delayed)
    }

    /// Whether Redis answers.
    ///
    /// # Errors
    ///
    /// `Unavailable` or `Timeout` when it does not.
    pub async fn ping(&self) -> Result<()> {
        let mut connection = self.inner.connection.clone();
        self.within(redis::cmd("PING").query_async::<()>(&mut connection))
            .await
    }

    pub(crate) fn key_prefix(&self) -> &str {
        &self.inner.config.key_prefix
    }

    pub(crate) fn bindings(&self) -> &[seam_queue::QueueBinding] {
        &self.inner.config.bindings
    }

    pub(crate) fn max_len(&self) -> u64 {
        self.inner.config.max_len
    }

    pub(crate) fn connection(&self) -> ConnectionManager {
        self.inner.connection.clone()
    }

    pub(crate) async fn call<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T> {
        self.within(call).await
    }

    fn key(&self, queue: &str, suffix: &str) -> String {
        format!("{}:{queue}:{suffix}", self.inner.config.key_prefix)
    }

    fn index_key(&self) -> String {
        format!("{}:dlq-index", self.inner.config.key_prefix)
    }

    fn known(&self, queue: &str) -> Result<()> {
        if self.inner.queues.contains(queue) {
            Ok(())
        } else {
            Err(Error::not_found(format!("queue {queue:?}")))
        }
    }

    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.inner.clock.system_time())
    }

    async fn within<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Result<T> {
        within(self.inner.config.timeout, call).await
    }

    /// Creates the consumer group (and the stream) unless it exists. Reading from the
    /// start (`0`) means messages published before the first worker started are not skipped.
    async fn create_group(&self, queue: &str) -> Result<()> {
        let mut connection = self.inner.connection.clone();
        let created = self
            .within(
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(self.key(queue, "stream"))
                    .arg(&self.inner.config.group)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async::<()>(&mut connection),
            )
            .await;
        match created {
            Err(Error::Transient { source, .. }) if is_code(&*source, "BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    async fn promote(&self, queue: &str) -> Result<()> {
        let now = self.now().timestamp_millis();
        let mut connection = self.inner.connection.clone();
        self.within(
            scripts::PROMOTE
                .key(self.key(queue, "delayed"))
                .key(self.key(queue, "stream"))
                .arg(now)
                .arg(PROMOTE_BATCH)
                .invoke_async::<u64>(&mut connection),
        )
        .await?;
        Ok(())
    }

    async fn reclaim(&self, queue: &str) -> Result<Option<Delivery>> {
        let mut connection = self.inner.connection.clone();
        let visibility =
            u64::try_from(self.inner.config.visibility_timeout.as_millis()).unwrap_or(u64::MAX);
        let claimed = self
            .within(
                scripts::RECLAIM
                    .key(self.key(queue, "stream"))
                    .arg(&self.inner.config.group)
                    .arg(&self.inner.config.consumer)
                    .arg(visibility)
                    .invoke_async::<Option<(String, String, u32)>>(&mut connection),
            )
            .await?;
        Ok(claimed.map(|(id, data, count)| self.delivery(queue, id, &data, count)))
    }

    async fn read_new(&self, queue: &str, block: Duration) -> Result<Option<Delivery>> {
        let mut command = redis::cmd("XREADGROUP");
        command
            .arg("GROUP")
            .arg(&self.inner.config.group)
            .arg(&self.inner.config.consumer)
            .arg("COUNT")
            .arg(1);
        let block_ms = u64::try_from(block.as_millis()).unwrap_or(u64::MAX);
        if block_ms > 0 {
            command.arg("BLOCK").arg(block_ms);
        }
        command
            .arg("STREAMS")
            .arg(self.key(queue, "stream"))
            .arg(">");

        let reply = if block_ms > 0 {
            // A blocking read holds its connection on the server: never the shared one.
            let mut connection = self.blocking_connection().await?;
            let reply = within(
                block + self.inner.config.timeout,
                command.query_async::<Value>(&mut connection),
            )
            .await;
            if reply.is_ok() {
                self.return_blocking_connection(connection).await;
            }
            reply
        } else {
            let mut connection = self.inner.connection.clone();
            self.within(command.query_async::<Value>(&mut connection))
                .await
        };
        Ok(first_entry(reply?).map(|(id, data)| self.delivery(queue, id, &data, 1)))
    }

    /// Due retries back into the stream, then an expired lease, then a new message.
    async fn poll_once(&self, queue: &str, block: Duration) -> Result<Option<Delivery>> {
        self.promote(queue).await?;
        if let Some(delivery) = self.reclaim(queue).await? {
            return Ok(Some(delivery));
        }
        self.read_new(queue, block).await
    }

    async fn blocking_connection(&self) -> Result<MultiplexedConnection> {
        if let Some(connection) = self.inner.blocking.lock().await.pop() {
            return Ok(connection);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.config.timeout))
            .set_response_timeout(None);
        self.within(
            self.inner
                .client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await
    }

    async fn return_blocking_connection(&self, connection: MultiplexedConnection) {
        let mut idle = self.inner.blocking.lock().await;
        if idle.len() < IDLE_BLOCKING_CONNECTIONS {
            idle.push(connection);
        }
    }

    fn delivery(&self, queue: &str, entry_id: String, data: &str, count: u32) -> Delivery {
        // Foreign data is delivered as an undecodable envelope: the consumer dead-letters
        // it like any message it cannot handle, instead of it being redelivered forever.
        let record = Record::decode(data);
        let deliveries = record.deliveries.saturating_add(count);
        let envelope = record.envelope.clone();
        let acker = RedisAcker {
            queue: self.clone(),
            name: queue.to_owned(),
            entry_id,
            count,
            record,
        };
        Delivery::new(envelope, queue, deliveries, Box::new(acker))
    }

    async fn dead_record(&self, id: Uuid) -> Result<Option<(String, String, DeadRecord)>> {
        let mut connection = self.inner.connection.clone();
        let location: Option<String> = self
            .within(
                redis::cmd("HGET")
                    .arg(self.index_key())
                    .arg(id.to_string())
                    .query_async(&mut connection),
            )
            .await?;
        let Some((queue, entry_id)) = location.as_deref().and_then(|l| l.split_once('|')) else {
            return Ok(None);
        };
        let entries: Value = self
            .within(
                redis::cmd("XRANGE")
                    .arg(self.key(queue, "dlq"))
                    .arg(entry_id)
                    .arg(entry_id)
                    .query_async(&mut connection),
            )
            .await?;
        Ok(dead_entries(entries)
            .into_iter()
            .next()
            .map(|(entry, record)| (queue.to_owned(), entry, record)))
    }

    async fn replay_one(&self, id: Uuid) -> Result<bool> {
        let Some((queue, entry_id, record)) = self.dead_record(id).await? else {
            return Ok(false);
        };
        let mut connection = self.inner.connection.clone();
        let moved: u32 = self
            .within(
                scripts::REPLAY
                    .key(self.index_key())
                    .key(self.key(&queue, "dlq"))
                    .key(self.key(&queue, "stream"))
                    .arg(id.to_string())
                    .arg(entry_id)
                    .arg(record.replayed().encode())
                    .invoke_async(&mut connection),
            )
            .await?;
        Ok(moved == 1)
    }

    async fn settle(&self, settlement: Settlement<'_>) -> Result<()> {
        let Settlement {
            queue,
            entry_id,
            count,
            action,
            due_ms,
            data,
            dead_id,
        } = settlement;
        let target = match action {
            "retry" => self.key(queue, "delayed"),
            _ => self.key(queue, "dlq"),
        };
        let mut connection = self.inner.connection.clone();
        let settled: u32 = self
            .within(
                scripts::SETTLE
                    .key(self.key(queue, "stream"))
                    .key(target)
                    .key(self.index_key())
                    .arg(&self.inner.config.group)
                    .arg(&self.inner.config.consumer)
                    .arg(entry_id)
                    .arg(count)
                    .arg(action)
                    .arg(due_ms)
                    .arg(data)
                    .arg(dead_id.map(|id| id.to_string()).unwrap_or_default())
                    .arg(queue)
                    .invoke_async(&mut connection),
            )
            .await?;
        if settled == 1 {
            Ok(())
        } else {
            Err(Error::LeaseExpired {
                message_id: settlement_message_id(data),
            })
        }
    }
}

/// One settle script call.
struct Settlement<'a> {
    queue: &'a str,
    entry_id: &'a str,
    count: u32,
    action: &'static str,
    due_ms: i64,
    data: &'a str,
    dead_id: Option<Uuid>,
}

/// The message id inside a record or dead record, for the lease-expired error.
fn settlement_message_id(data: &str) -> Uuid {
    #[derive(serde::Deserialize)]
    struct Carrier {
        envelope: Envelope,
    }
    serde_json::from_str::<Carrier>(data)
        .map(|carrier| carrier.envelope.message_id)
        .unwrap_or_default()
}

async fn within<T>(
    timeout: Duration,
    call: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(full_or(error).into()),
        Err(_) => Err(RedisQueueError::Elapsed(timeout).into()),
    }
}

fn full_or(error: redis::RedisError) -> RedisQueueError {
    if error.code() == Some(FULL) {
        let key = error.detail().unwrap_or_default().to_owned();
        RedisQueueError::Full(key)
    } else {
        RedisQueueError::Redis(error)
    }
}

fn is_code(source: &(dyn std::error::Error + Send + Sync + 'static), code: &str) -> bool {
    source
        .downcast_ref::<redis::RedisError>()
        .is_some_and(|error| error.code() == Some(code))
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone()).ok(),
        Value::SimpleString(text) => Some(text.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// The field `name` of a stream entry's flat field list.
fn field(fields: &Value, name: &str) -> Option<String> {
    let Value::Array(items) = fields else {
        return None;
    };
    items
        .chunks(2)
        .find(|pair| text(&pair[0]).as_deref() == Some(name))
        .and_then(|pair| pair.get(1).and_then(text))
}

/// `(entry id, data)` of the first entry of an `XREADGROUP` reply.
fn first_entry(reply: Value) -> Option<(String, String)> {
    let streams = match reply {
        Value::Array(streams) => streams,
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(key, value)| Value::Array(vec![key, value]))
            .collect(),
        _ => return None,
    };
    let Value::Array(stream) = streams.into_iter().next()? else {
        return None;
    };
    let Value::Array(entries) = stream.into_iter().nth(1)? else {
        return None;
    };
    let Value::Array(entry) = entries.into_iter().next()? else {
        return None;
    };
    let id = text(entry.first()?)?;
    let data = entry.get(1).and_then(|fields| field(fields, "data"))?;
    Some((id, data))
}

/// `(entry id, record)` of each decodable entry of an `XRANGE` reply on a dead-letter stream.
fn dead_entries(reply: Value) -> Vec<(String, DeadRecord)> {
    let Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(entry) = entry else {
                return None;
            };
            let id = text(entry.first()?)?;
            let data = field(entry.get(1)?, "data")?;
            match serde_json::from_str::<DeadRecord>(&data) {
                Ok(record) => Some((id, record)),
                Err(error) => {
                    tracing::warn!(entry = %id, error = %error, "skipping an undecodable dead letter");
                    None
                }
            }
        })
        .collect()
}

#[async_trait]
impl Publisher for RedisQueue {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()> {
        METRICS
            .call("publish", async {
                envelope.validate()?;
                let queues = route(&self.inner.config.bindings, routing_key)?;
                let data = Record::new(envelope.clone()).encode();
                let mut invocation = scripts::PUBLISH.prepare_invoke();
                for queue in queues {
                    invocation.key(self.key(queue, "stream"));
                }
                invocation.arg(self.inner.config.max_len).arg(data);
                let mut connection = self.inner.connection.clone();
                self.within(invocation.invoke_async::<u64>(&mut connection))
                    .await?;
                Ok(())
            })
            .await
    }
}

#[async_trait]
impl Consumer for RedisQueue {
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>> {
        METRICS
            .call("receive", async {
                self.known(queue)?;
                let deadline = Instant::now() + wait;
                let mut recreated = false;
                loop {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    let block = remaining.min(self.inner.config.poll_interval);
                    match self.poll_once(queue, block).await {
                        Ok(Some(delivery)) => return Ok(Some(delivery)),
                        Ok(None) => {}
                        Err(Error::Transient { source, .. })
                            if !recreated && is_code(&*source, "NOGROUP") =>
                        {
                            // The stream was deleted (by an operator or a cleanup):
                            // recreate it and its group, then look again.
                            recreated = true;
                            self.create_group(queue).await?;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                    if Instant::now() >= deadline {
                        return Ok(None);
                    }
                }
            })
            .await
    }
}

#[async_trait]
impl DeadLetters for RedisQueue {
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>> {
        METRICS
            .call("dlq_list", async {
                self.known(queue)?;
                if limit == 0 {
                    return Ok(Vec::new());
                }
                let mut connection = self.inner.connection.clone();
                let entries: Value = self
                    .within(
                        redis::cmd("XRANGE")
                            .arg(self.key(queue, "dlq"))
                            .arg("-")
                            .arg("+")
                            .arg("COUNT")
                            .arg(limit)
                            .query_async(&mut connection),
                    )
                    .await?;
                Ok(dead_entries(entries)
                    .into_iter()
                    .map(|(_, record)| record.into_dead_letter())
                    .collect())
            })
            .await
    }

    async fn get(&self, id: Uuid) -> Result<DeadLetter> {
        METRICS
            .call("dlq_get", async {
                self.dead_record(id)
                    .await?
                    .map(|(_, _, record)| record.into_dead_letter())
                    .ok_or_else(|| Error::not_found(format!("dead letter {id}")))
            })
            .await
    }

    async fn replay(&self, id: Uuid) -> Result<()> {
        METRICS
            .call("dlq_replay", async {
                if self.replay_one(id).await? {
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
                self.known(queue)?;
                let mut replayed = 0;
                // Bounded: each round moves what it lists out of the dead letters.
                for _ in 0..10_000 {
                    let batch = self.list(queue, 100).await?;
                    if batch.is_empty() {
                        break;
                    }
                    for dead in batch {
                        if self.replay_one(dead.id).await? {
                            replayed += 1;
                        }
                    }
                }
                Ok(replayed)
            })
            .await
    }

    async fn purge(&self, queue: &str) -> Result<u64> {
        METRICS
            .call("dlq_purge", async {
                self.known(queue)?;
                let mut purged = 0;
                for _ in 0..100_000 {
                    let mut connection = self.inner.connection.clone();
                    let deleted: u64 = self
                        .within(
                            scripts::PURGE
                                .key(self.key(queue, "dlq"))
                                .key(self.index_key())
                                .arg(PURGE_BATCH)
                                .invoke_async(&mut connection),
                        )
                        .await?;
                    purged += deleted;
                    if deleted == 0 {
                        break;
                    }
                }
                Ok(purged)
            })
            .await
    }
}

#[async_trait]
impl HealthCheck for RedisQueue {
    fn name(&self) -> &str {
        "queue"
    }

    async fn check(&self) -> Health {
        match self.ping().await {
            Ok(()) => Health::up(),
            Err(error) => Health::down(format!("redis: {}", seam_core::Classify::kind(&error))),
        }
    }
}

/// Settles one delivery through the settle script.
struct RedisAcker {
    queue: RedisQueue,
    name: String,
    entry_id: String,
    count: u32,
    record: Record,
}

impl fmt::Debug for RedisAcker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisAcker")
            .field("queue", &self.name)
            .field("entry_id", &self.entry_id)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Acker for RedisAcker {
    async fn ack(self: Box<Self>) -> Result<()> {
        let data = self.record.encode();
        METRICS
            .call(
                "ack",
                self.queue.settle(Settlement {
                    queue: &self.name,
                    entry_id: &self.entry_id,
                    count: self.count,
                    action: "ack",
                    due_ms: 0,
                    data: &data,
                    dead_id: None,
                }),
            )
            .await
    }

    async fn retry(self: Box<Self>, after: Duration, reason: &str) -> Result<()> {
        let now = self.queue.now();
        let due = now + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
        let data = self.record.retried(self.count, reason, now).encode();
        METRICS
            .call(
                "retry",
                self.queue.settle(Settlement {
                    queue: &self.name,
                    entry_id: &self.entry_id,
                    count: self.count,
                    action: "retry",
                    due_ms: due.timestamp_millis(),
                    data: &data,
                    dead_id: None,
                }),
            )
            .await
    }

    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<()> {
        let now = self.queue.now();
        let id = Uuid::now_v7();
        let data = self
            .record
            .dead(id, &self.name, self.count, reason, now)
            .encode();
        METRICS
            .call(
                "dead_letter",
                self.queue.settle(Settlement {
                    queue: &self.name,
                    entry_id: &self.entry_id,
                    count: self.count,
                    action: "dead",
                    due_ms: 0,
                    data: &data,
                    dead_id: Some(id),
                }),
            )
            .await
    }
}
