//! The adapter: publish, receive and settle, dead letters, health.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::{FutureExt, StreamExt};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeleteOptions};
use lapin::options::{ExchangeDeleteOptions, QueuePurgeOptions};
use seam_core::{Health, HealthCheck};
use seam_queue::{
    Acker, Consumer, DeadLetter, DeadLetters, Delivery, Envelope, Error, Publisher, Result,
    validate_routing_key,
};
use seam_telemetry::PortMetrics;
use tokio::task::AbortHandle;
use uuid::Uuid;

use crate::codec::{self, Meta};
use crate::config::AmqpQueueConfig;
use crate::connection::{Connector, Live, Names};
use crate::error::{ADAPTER, AmqpError};

const METRICS: PortMetrics = PortMetrics::new("queue", ADAPTER);

/// The queue port on RabbitMQ; made by [`AmqpQueueConfig::build`].
///
/// Cheap to clone: clones share the connection.
///
/// - **Publish** goes to the topic exchange with `mandatory` on a confirm-mode channel and
///   returns once the broker confirmed it; a message no queue is bound for is
///   [`Error::Unroutable`].
/// - **Receive** takes the next message from a per-queue consumer (prefetch from the
///   config). A delivery left unsettled for the visibility timeout is put back on its
///   queue (a copy, with its delivery count, then the original is acked) and the stale
///   delivery can no longer be settled.
/// - **Retry** publishes a copy (attempt + 1, reason and failure times in `x-seam-*`
///   headers) to the retry queue of the smallest tier at least the delay asked for; its
///   TTL expires it back to the queue through `<exchange>.direct`. A zero delay goes back
///   at once.
/// - **Dead-letter** publishes a copy to `<exchange>.dlx`, which routes it to
///   `<queue>.dlq`. Messages the broker dead-letters itself land there too.
/// - **Dead letters** are read with `basic.get` (and put back by closing the channel),
///   replayed through `<exchange>.direct`, purged with `queue.purge`.
/// - A lost connection is made again by the next call, with backoff between failures.
#[derive(Clone)]
pub struct AmqpQueue {
    inner: Arc<Inner>,
}

struct Inner {
    config: AmqpQueueConfig,
    names: Names,
    /// Port queue names, once each, in binding order.
    queues: Vec<String>,
    connector: Connector,
}

impl fmt::Debug for AmqpQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AmqpQueue")
            .field("exchange", &self.inner.names.exchange)
            .field("queue_prefix", &self.inner.config.queue_prefix)
            .field("queues", &self.inner.queues)
            .finish_non_exhaustive()
    }
}

impl Inner {
    async fn live(&self) -> Result<Arc<Live>, AmqpError> {
        self.connector.live(&self.config, &self.names).await
    }

    /// Runs `operation` on the live connection within the configured timeout, and marks
    /// the connection broken when the failure says so.
    async fn with_live<T, F, Fut>(&self, name: &'static str, operation: F) -> Result<T>
    where
        F: FnOnce(Arc<Live>) -> Fut,
        Fut: Future<Output = Result<T, AmqpError>>,
    {
        let live = self.live().await?;
        let result = self.step(name, operation(Arc::clone(&live))).await;
        result.map_err(|error| {
            live.note(&error);
            error.into()
        })
    }

    /// Runs one broker operation within the configured timeout.
    async fn step<T>(
        &self,
        name: &'static str,
        operation: impl Future<Output = Result<T, AmqpError>>,
    ) -> Result<T, AmqpError> {
        match tokio::time::timeout(self.config.timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(AmqpError::Elapsed {
                operation: name,
                after: self.config.timeout,
            }),
        }
    }

    fn known(&self, queue: &str) -> Result<()> {
        if self.queues.iter().any(|known| known == queue) {
            Ok(())
        } else {
            Err(Error::not_found(format!("queue `{queue}`")))
        }
    }
}

impl AmqpQueue {
    pub(crate) fn from_config(config: AmqpQueueConfig) -> Self {
        let names = Names::new(&config);
        let mut queues: Vec<String> = Vec::new();
        for binding in &config.bindings {
            if !queues.contains(&binding.queue) {
                queues.push(binding.queue.clone());
            }
        }
        Self {
            inner: Arc::new(Inner {
                config,
                names,
                queues,
                connector: Connector::default(),
            }),
        }
    }

    /// Connects and declares the topology now, rather than on the first call.
    ///
    /// # Errors
    ///
    /// `Unavailable` when the broker cannot be reached, `Timeout` past the configured
    /// timeout, `Internal` when a queue exists with other arguments.
    pub async fn connect(&self) -> Result<()> {
        self.inner.live().await.map(drop).map_err(Into::into)
    }

    /// Closes the connection (for a graceful shutdown). The next call connects again.
    pub async fn close(&self) {
        self.inner.connector.close().await;
    }

    /// Deletes every queue and exchange this adapter declares, messages included.
    ///
    /// For tests and teardown of throw-away deployments; never needed in normal operation.
    ///
    /// # Errors
    ///
    /// When the broker cannot be reached.
    pub async fn delete_topology(&self) -> Result<()> {
        let inner = &self.inner;
        inner
            .with_live("delete_topology", |live| async move {
                let channel = &live.publisher;
                let names = &inner.names;
                for queue in &inner.queues {
                    let mut broker_queues = vec![names.queue(queue), names.dlq(queue)];
                    for tier in names.tiers() {
                        broker_queues.push(names.retry_queue(queue, *tier));
                    }
                    for name in broker_queues {
                        channel
                            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                            .await?;
                    }
                }
                for exchange in [&names.exchange, &names.direct, &names.dlx] {
                    channel
                        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                        .await?;
                }
                Ok(())
            })
            .await
    }

    /// Turns a lapin delivery into a port delivery with a lease, or `None` after
    /// dead-lettering a body that is not an envelope.
    async fn delivery(
        &self,
        live: Arc<Live>,
        queue: &str,
        message: lapin::message::Delivery,
    ) -> Result<Option<Delivery>> {
        let (envelope, meta, decoded) = codec::decode(&message.properties, &message.data);
        let deliveries = meta
            .deliveries
            .saturating_add(1)
            .saturating_add(u32::from(message.redelivered));
        let settle = Settle {
            inner: Arc::clone(&self.inner),
            live,
            queue: queue.to_owned(),
            envelope: envelope.clone(),
            meta,
            deliveries,
            amqp: message.acker,
        };
        if !decoded {
            tracing::warn!(
                queue,
                message_id = %envelope.message_id,
                "received a message whose body is not an envelope; dead-lettering it"
            );
            settle
                .dead_letter("the body is not a JSON envelope")
                .await?;
            return Ok(None);
        }
        let lease = Arc::new(Lease::default());
        let timer = {
            let lease = Arc::clone(&lease);
            let settle = settle.clone();
            let after = self.inner.config.visibility_timeout;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                if lease.expire() {
                    settle.redeliver().await;
                }
            })
        };
        lease.set_timer(timer.abort_handle());
        Ok(Some(Delivery::new(
            envelope,
            queue,
            deliveries,
            Box::new(LeasedAcker { settle, lease }),
        )))
    }

    /// After the consumer pushed nothing in time: one `basic.get`, which sees a message
    /// the broker has not pushed yet (with a zero wait, or right after the consumer
    /// started).
    async fn look(
        &self,
        live: Arc<Live>,
        queue: &str,
        slot: &tokio::sync::Mutex<crate::connection::ConsumerSlot>,
    ) -> Result<Option<Delivery>> {
        let got = tokio::time::timeout(self.inner.config.timeout, async {
            let mut slot = slot.lock().await;
            let got = slot
                .channel
                .basic_get(
                    self.inner.names.queue(queue).as_str().into(),
                    BasicGetOptions { no_ack: false },
                )
                .await?;
            if let Some(got) = got {
                return Ok(Some(got.delivery));
            }
            // The queue was empty because its messages were being pushed to the consumer:
            // frames arrive in order, so they are in the consumer's buffer by now.
            match slot.consumer.next().now_or_never() {
                Some(Some(Ok(message))) => Ok(Some(message)),
                Some(Some(Err(error))) => Err(error),
                Some(None) | None => Ok(None),
            }
        })
        .await;
        match got {
            Ok(Ok(Some(message))) => self.delivery(live, queue, message).await,
            Ok(Ok(None)) | Err(_) => Ok(None),
            Ok(Err(error)) => {
                let error = AmqpError::from(error);
                live.note(&error);
                Err(error.into())
            }
        }
    }

    /// Reads the dead letters of `queue` in order on a fresh channel, handing each to
    /// `visit` until it says stop; the channel is then closed, which puts back every
    /// dead letter that `visit` did not ack.
    async fn scan_dead_letters<F, Fut>(&self, queue: &str, mut visit: F) -> Result<()>
    where
        F: FnMut(Arc<Live>, DeadLetter, lapin::message::Delivery) -> Fut + Send,
        Fut: Future<Output = Result<bool, AmqpError>> + Send,
    {
        // Each step has the configured timeout, not the whole scan: a long dead-letter
        // queue takes as long as it takes.
        let inner = &self.inner;
        let live = inner.live().await?;
        let result = async {
            let channel = inner
                .step("channel.open", async {
                    Ok(live.connection.create_channel().await?)
                })
                .await?;
            let dlq = inner.names.dlq(queue);
            let mut result = Ok(());
            loop {
                let got = inner
                    .step("basic.get", async {
                        Ok(channel
                            .basic_get(dlq.as_str().into(), BasicGetOptions { no_ack: false })
                            .await?)
                    })
                    .await;
                let got = match got {
                    Ok(got) => got,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                };
                let Some(got) = got else { break };
                let message = got.delivery;
                let dead_letter = dead_letter_of(queue, &message);
                let visited = inner
                    .step(
                        "dead letter",
                        visit(Arc::clone(&live), dead_letter, message),
                    )
                    .await;
                match visited {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                }
            }
            // Closing the channel puts back, in order, every message not acked.
            let _ = channel.close(200, "done".into()).await;
            result
        }
        .await;
        result.map_err(|error| {
            live.note(&error);
            error.into()
        })
    }

    /// Finds the dead letter `id` in any queue's dead letters and hands it to `found`.
    async fn find_dead_letter<F, Fut>(&self, id: Uuid, found: F) -> Result<DeadLetter>
    where
        F: Fn(Arc<Live>, DeadLetter, lapin::message::Delivery) -> Fut + Send + Sync,
        Fut: Future<Output = Result<(), AmqpError>> + Send,
    {
        for queue in &self.inner.queues {
            let hit: StdMutex<Option<DeadLetter>> = StdMutex::new(None);
            self.scan_dead_letters(queue, |live, dead_letter, message| {
                let matched = dead_letter.id == id;
                let hit = &hit;
                let found = &found;
                async move {
                    if matched {
                        found(live, dead_letter.clone(), message).await?;
                        *hit.lock().unwrap_or_else(|p| p.into_inner()) = Some(dead_letter);
                        return Ok(false);
                    }
                    Ok(true)
                }
            })
            .await?;
            if let Some(dead_letter) = hit.into_inner().unwrap_or_else(|p| p.into_inner()) {
                return Ok(dead_letter);
            }
        }
        Err(Error::not_found(format!("dead letter {id}")))
    }

    /// Publishes `dead_letter`'s message back on its queue as new (attempt 0, no history)
    /// and acks the dead letter.
    async fn replay_one(
        names: &Names,
        live: &Live,
        dead_letter: &DeadLetter,
        message: &lapin::message::Delivery,
    ) -> Result<(), AmqpError> {
        let mut envelope = dead_letter.envelope.clone();
        envelope.attempt = 0;
        let routed = live
            .publish(
                &names.direct,
                &dead_letter.queue,
                &codec::encode(&envelope),
                codec::properties(&envelope, &Meta::default()),
            )
            .await?;
        if !routed {
            return Err(AmqpError::Disconnected(format!(
                "queue `{}` is not bound to {}; declare the topology again",
                dead_letter.queue, names.direct
            )));
        }
        message.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }
}

fn dead_letter_of(queue: &str, message: &lapin::message::Delivery) -> DeadLetter {
    let (envelope, meta, _) = codec::decode(&message.properties, &message.data);
    let now = Utc::now();
    let dead_lettered_at = meta.dead_lettered_at.unwrap_or(now);
    let last = meta.last_failed_at.unwrap_or(dead_lettered_at);
    DeadLetter::new(
        // Dead-lettered by the broker (rejected, or a quorum delivery limit) rather than
        // by a consumer: no id of its own, so the message id stands in.
        meta.dead_letter_id.unwrap_or(envelope.message_id),
        queue,
        envelope,
        meta.reason
            .unwrap_or_else(|| "dead-lettered by the broker".to_owned()),
        meta.deliveries,
        meta.first_failed_at.unwrap_or(last),
        last,
        dead_lettered_at,
    )
}

#[async_trait]
impl Publisher for AmqpQueue {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> Result<()> {
        METRICS
            .call("publish", async {
                validate_routing_key(routing_key)?;
                envelope.validate()?;
                let body = codec::encode(envelope);
                let properties = codec::properties(envelope, &Meta::default());
                let inner = &self.inner;
                let routed = inner
                    .with_live("publish", |live| async move {
                        live.publish(&inner.names.exchange, routing_key, &body, properties)
                            .await
                    })
                    .await?;
                if routed {
                    Ok(())
                } else {
                    Err(Error::Unroutable {
                        routing_key: routing_key.to_owned(),
                    })
                }
            })
            .await
    }
}

#[async_trait]
impl Consumer for AmqpQueue {
    async fn receive(&self, queue: &str, wait: Duration) -> Result<Option<Delivery>> {
        METRICS
            .call("receive", async {
                self.inner.known(queue)?;
                let deadline = tokio::time::Instant::now() + wait;
                loop {
                    let live = self.inner.live().await?;
                    let slot = match tokio::time::timeout(
                        self.inner.config.timeout,
                        live.consumer(&self.inner.names, queue, self.inner.config.prefetch),
                    )
                    .await
                    {
                        Ok(Ok(slot)) => slot,
                        Ok(Err(error)) => {
                            live.note(&error);
                            return Err(error.into());
                        }
                        Err(_) => {
                            let error = AmqpError::Elapsed {
                                operation: "basic.consume",
                                after: self.inner.config.timeout,
                            };
                            live.note(&error);
                            return Err(error.into());
                        }
                    };
                    let next = tokio::time::timeout_at(deadline, async {
                        slot.lock().await.consumer.next().await
                    })
                    .await;
                    match next {
                        Err(_) => return self.look(live, queue, &slot).await,
                        Ok(None) => {
                            // The broker cancelled the consumer (its queue was deleted).
                            live.drop_consumer(queue).await;
                            return Err(Error::backend(
                                ADAPTER,
                                seam_core::ErrorKind::Unavailable,
                                format!("the consumer of queue `{queue}` was cancelled"),
                            ));
                        }
                        Ok(Some(Err(error))) => {
                            let error = AmqpError::from(error);
                            live.note(&error);
                            live.drop_consumer(queue).await;
                            return Err(error.into());
                        }
                        Ok(Some(Ok(message))) => {
                            if let Some(delivery) =
                                self.delivery(Arc::clone(&live), queue, message).await?
                            {
                                return Ok(Some(delivery));
                            }
                        }
                    }
                }
            })
            .await
    }
}

#[async_trait]
impl DeadLetters for AmqpQueue {
    async fn list(&self, queue: &str, limit: usize) -> Result<Vec<DeadLetter>> {
        METRICS
            .call("dlq_list", async {
                self.inner.known(queue)?;
                let listed: StdMutex<Vec<DeadLetter>> = StdMutex::new(Vec::new());
                if limit > 0 {
                    self.scan_dead_letters(queue, |_live, dead_letter, _message| {
                        let listed = &listed;
                        async move {
                            let mut listed = listed.lock().unwrap_or_else(|p| p.into_inner());
                            listed.push(dead_letter);
                            Ok(listed.len() < limit)
                        }
                    })
                    .await?;
                }
                Ok(listed.into_inner().unwrap_or_else(|p| p.into_inner()))
            })
            .await
    }

    async fn get(&self, id: Uuid) -> Result<DeadLetter> {
        METRICS
            .call("dlq_get", async {
                self.find_dead_letter(id, |_, _, _| async { Ok(()) }).await
            })
            .await
    }

    async fn replay(&self, id: Uuid) -> Result<()> {
        METRICS
            .call("dlq_replay", async {
                let names = &self.inner.names;
                self.find_dead_letter(id, |live, dead_letter, message| async move {
                    Self::replay_one(names, &live, &dead_letter, &message).await
                })
                .await
                .map(drop)
            })
            .await
    }

    async fn replay_all(&self, queue: &str) -> Result<u64> {
        METRICS
            .call("dlq_replay_all", async {
                self.inner.known(queue)?;
                let names = &self.inner.names;
                let count = std::sync::atomic::AtomicU64::new(0);
                self.scan_dead_letters(queue, |live, dead_letter, message| {
                    let count = &count;
                    async move {
                        Self::replay_one(names, &live, &dead_letter, &message).await?;
                        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok(true)
                    }
                })
                .await?;
                Ok(count.into_inner())
            })
            .await
    }

    async fn purge(&self, queue: &str) -> Result<u64> {
        METRICS
            .call("dlq_purge", async {
                self.inner.known(queue)?;
                let inner = &self.inner;
                inner
                    .with_live("queue.purge", |live| async move {
                        let purged = live
                            .publisher
                            .queue_purge(
                                inner.names.dlq(queue).as_str().into(),
                                QueuePurgeOptions::default(),
                            )
                            .await?;
                        Ok(u64::from(purged))
                    })
                    .await
            })
            .await
    }
}

#[async_trait]
impl HealthCheck for AmqpQueue {
    fn name(&self) -> &str {
        "queue"
    }

    async fn check(&self) -> Health {
        match self.inner.live().await {
            Ok(_) => Health::up(),
            Err(error) => Health::down(format!("rabbitmq: {}", error.kind())),
        }
    }
}

/// Who owns a received message: the delivery (until settled) or the redelivery timer.
#[derive(Debug, Default)]
struct Lease {
    state: StdMutex<LeaseState>,
    timer: StdMutex<Option<AbortHandle>>,
}

#[derive(Debug, Default, PartialEq)]
enum LeaseState {
    #[default]
    Leased,
    Settled,
    Expired,
}

impl Lease {
    fn set_timer(&self, timer: AbortHandle) {
        *self.timer.lock().unwrap_or_else(|p| p.into_inner()) = Some(timer);
    }

    /// Takes the message for settling; false when the lease has expired.
    fn settle(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state != LeaseState::Leased {
            return false;
        }
        *state = LeaseState::Settled;
        if let Some(timer) = self.timer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            timer.abort();
        }
        true
    }

    /// Takes the message for redelivery; false when it was settled.
    fn expire(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state != LeaseState::Leased {
            return false;
        }
        *state = LeaseState::Expired;
        true
    }
}

/// Everything needed to settle one received message.
#[derive(Clone)]
struct Settle {
    inner: Arc<Inner>,
    live: Arc<Live>,
    queue: String,
    envelope: Envelope,
    meta: Meta,
    deliveries: u32,
    amqp: lapin::Acker,
}

impl fmt::Debug for Settle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settle")
            .field("queue", &self.queue)
            .field("message_id", &self.envelope.message_id)
            .field("deliveries", &self.deliveries)
            .finish_non_exhaustive()
    }
}

impl Settle {
    fn lease_expired(&self) -> Error {
        Error::LeaseExpired {
            message_id: self.envelope.message_id,
        }
    }

    /// Runs `operation` within the timeout on the connection the message came from.
    async fn timed<T>(
        &self,
        name: &'static str,
        operation: impl Future<Output = Result<T, AmqpError>>,
    ) -> Result<T, AmqpError> {
        let result = match tokio::time::timeout(self.inner.config.timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(AmqpError::Elapsed {
                operation: name,
                after: self.inner.config.timeout,
            }),
        };
        if let Err(error) = &result {
            self.live.note(error);
        }
        result
    }

    async fn ack(&self) -> Result<()> {
        match self
            .timed("basic.ack", async {
                Ok(self.amqp.ack(BasicAckOptions::default()).await?)
            })
            .await
        {
            Ok(true) => Ok(()),
            // The channel closed: the broker will deliver the message again.
            Ok(false) => Err(self.lease_expired()),
            Err(_) if self.amqp.poisoned() => Err(self.lease_expired()),
            Err(error) => Err(error.into()),
        }
    }

    /// Publishes a copy to `exchange`/`routing_key`, then acks the original; if the copy
    /// cannot be published the original goes back to its queue.
    async fn move_to(
        &self,
        name: &'static str,
        exchange: &str,
        routing_key: &str,
        envelope: &Envelope,
        meta: &Meta,
    ) -> Result<()> {
        if !self.amqp.usable() {
            return Err(self.lease_expired());
        }
        let published = self
            .timed(
                name,
                self.live.publish(
                    exchange,
                    routing_key,
                    &codec::encode(envelope),
                    codec::properties(envelope, meta),
                ),
            )
            .await;
        match published {
            Ok(true) => self.ack().await,
            Ok(false) => {
                let _ = self.amqp.nack(requeue()).await;
                Err(Error::not_found(format!(
                    "the {routing_key} binding of exchange {exchange} (declare the topology again)"
                )))
            }
            Err(error) => {
                let _ = self.amqp.nack(requeue()).await;
                Err(error.into())
            }
        }
    }

    fn failed_meta(&self, reason: &str) -> Meta {
        let now = Utc::now();
        Meta {
            deliveries: self.deliveries,
            first_failed_at: Some(self.meta.first_failed_at.unwrap_or(now)),
            last_failed_at: Some(now),
            reason: Some(reason.to_owned()),
            dead_letter_id: None,
            dead_lettered_at: None,
        }
    }

    async fn retry(&self, after: Duration, reason: &str) -> Result<()> {
        let mut envelope = self.envelope.clone();
        envelope.attempt = envelope.attempt.saturating_add(1);
        let meta = self.failed_meta(reason);
        let names = &self.inner.names;
        if after.is_zero() {
            self.move_to("retry", &names.direct, &self.queue, &envelope, &meta)
                .await
        } else {
            let retry_queue = names.retry_queue(&self.queue, names.tier_for(after));
            // The default exchange routes to the queue named by the routing key.
            self.move_to("retry", "", &retry_queue, &envelope, &meta)
                .await
        }
    }

    async fn dead_letter(&self, reason: &str) -> Result<()> {
        let mut meta = self.failed_meta(reason);
        meta.dead_letter_id = Some(Uuid::now_v7());
        meta.dead_lettered_at = meta.last_failed_at;
        self.move_to(
            "dead_letter",
            &self.inner.names.dlx,
            &self.queue,
            &self.envelope,
            &meta,
        )
        .await
    }

    /// After the visibility timeout: a copy with the delivery count goes back on the queue.
    async fn redeliver(&self) {
        if !self.amqp.usable() {
            // The channel closed: the broker has put the message back already.
            return;
        }
        let meta = Meta {
            deliveries: self.deliveries,
            ..self.meta.clone()
        };
        let result = self
            .move_to(
                "redeliver",
                &self.inner.names.direct,
                &self.queue,
                &self.envelope,
                &meta,
            )
            .await;
        if let Err(error) = result {
            tracing::warn!(
                queue = %self.queue,
                message_id = %self.envelope.message_id,
                error.message = %error,
                "could not put back a message whose visibility timeout passed"
            );
        }
    }
}

fn requeue() -> BasicNackOptions {
    BasicNackOptions {
        multiple: false,
        requeue: true,
    }
}

/// The port's settling handle: takes the lease, then settles.
#[derive(Debug)]
struct LeasedAcker {
    settle: Settle,
    lease: Arc<Lease>,
}

impl LeasedAcker {
    fn take(&self) -> Result<()> {
        if self.lease.settle() {
            Ok(())
        } else {
            Err(self.settle.lease_expired())
        }
    }
}

#[async_trait]
impl Acker for LeasedAcker {
    async fn ack(self: Box<Self>) -> Result<()> {
        self.take()?;
        METRICS.call("ack", self.settle.ack()).await
    }

    async fn retry(self: Box<Self>, after: Duration, reason: &str) -> Result<()> {
        self.take()?;
        METRICS
            .call("retry", self.settle.retry(after, reason))
            .await
    }

    async fn dead_letter(self: Box<Self>, reason: &str) -> Result<()> {
        self.take()?;
        METRICS
            .call("dead_letter", self.settle.dead_letter(reason))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_once() {
        let lease = Lease::default();
        assert!(lease.settle());
        assert!(!lease.expire());
        let lease = Lease::default();
        assert!(lease.expire());
        assert!(!lease.settle());
    }

    #[test]
    fn unknown_queues_are_not_found() {
        let queue = AmqpQueueConfig::new("amqp://127.0.0.1:1/%2f")
            .with_bindings(vec![seam_queue::QueueBinding::new("orders", "order.*")])
            .build()
            .unwrap();
        assert!(queue.inner.known("orders").is_ok());
        assert!(matches!(
            queue.inner.known("payments"),
            Err(Error::NotFound { .. })
        ));
    }
}
