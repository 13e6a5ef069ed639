//! The connection to RabbitMQ: made on first use, topology declared on each (re)connect,
//! dropped when it breaks and made again on the next call after a backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{
    BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind,
};
use seam_core::ExposeSecret;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::config::AmqpQueueConfig;
use crate::error::AmqpError;

/// Broker names derived from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) exchange: String,
    pub(crate) direct: String,
    pub(crate) dlx: String,
    prefix: String,
    tiers: Vec<Duration>,
}

impl Names {
    pub(crate) fn new(config: &AmqpQueueConfig) -> Self {
        Self {
            exchange: config.exchange.clone(),
            direct: format!("{}.direct", config.exchange),
            dlx: format!("{}.dlx", config.exchange),
            prefix: config.queue_prefix.clone(),
            tiers: config.retry_tiers.clone(),
        }
    }

    /// The broker name of a port queue.
    pub(crate) fn queue(&self, queue: &str) -> String {
        format!("{}{queue}", self.prefix)
    }

    /// The dead-letter queue of a port queue.
    pub(crate) fn dlq(&self, queue: &str) -> String {
        format!("{}{queue}.dlq", self.prefix)
    }

    /// The retry queue of `queue` for `tier`.
    pub(crate) fn retry_queue(&self, queue: &str, tier: Duration) -> String {
        format!("{}{queue}.retry.{}ms", self.prefix, tier.as_millis())
    }

    /// The tier a retry after `delay` waits in: the smallest at least `delay`, or the
    /// largest when none is.
    pub(crate) fn tier_for(&self, delay: Duration) -> Duration {
        self.tiers
            .iter()
            .copied()
            .find(|tier| *tier >= delay)
            .or_else(|| self.tiers.last().copied())
            .unwrap_or(delay)
    }

    pub(crate) fn tiers(&self) -> &[Duration] {
        &self.tiers
    }
}

/// One consumer (its own channel, with the configured prefetch) per port queue.
pub(crate) struct ConsumerSlot {
    pub(crate) consumer: lapin::Consumer,
    pub(crate) channel: Channel,
}

/// A live connection: a confirm-mode publishing channel and the consumers.
pub(crate) struct Live {
    pub(crate) connection: Connection,
    pub(crate) publisher: Channel,
    consumers: Mutex<HashMap<String, Arc<Mutex<ConsumerSlot>>>>,
    broken: AtomicBool,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("connected", &self.connection.status().connected())
            .field("broken", &self.broken.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Live {
    pub(crate) fn usable(&self) -> bool {
        !self.broken.load(Ordering::SeqCst) && self.connection.status().connected()
    }

    /// Marks the connection broken when `error` says so: the next call reconnects.
    pub(crate) fn note(&self, error: &AmqpError) {
        if error.breaks_connection() {
            tracing::warn!(error.message = %error, "RabbitMQ connection lost; reconnecting on the next call");
            self.broken.store(true, Ordering::SeqCst);
        }
    }

    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::SeqCst);
    }

    /// The consumer of `queue`, started on first use.
    pub(crate) async fn consumer(
        &self,
        names: &Names,
        queue: &str,
        prefetch: u16,
    ) -> Result<Arc<Mutex<ConsumerSlot>>, AmqpError> {
        let mut consumers = self.consumers.lock().await;
        if let Some(slot) = consumers.get(queue) {
            return Ok(Arc::clone(slot));
        }
        let channel = self.connection.create_channel().await?;
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("seam-{queue}-{}", uuid::Uuid::now_v7().simple());
        let consumer = channel
            .basic_consume(
                names.queue(queue).into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let slot = Arc::new(Mutex::new(ConsumerSlot { consumer, channel }));
        consumers.insert(queue.to_owned(), Arc::clone(&slot));
        Ok(slot)
    }

    /// Forgets the consumer of `queue` (it was cancelled), so the next call starts another.
    pub(crate) async fn drop_consumer(&self, queue: &str) {
        self.consumers.lock().await.remove(queue);
    }

    /// Publishes with `mandatory` and waits for the broker's confirm.
    ///
    /// Returns `Ok(false)` when the broker returned the message as unroutable.
    pub(crate) async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<bool, AmqpError> {
        let confirm = self
            .publisher
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await?
            .await?;
        match confirm {
            Confirmation::Ack(None) => Ok(true),
            Confirmation::Ack(Some(_returned)) => Ok(false),
            Confirmation::Nack(_) => Err(AmqpError::Nacked),
            // The publishing channel is always in confirm mode.
            Confirmation::NotRequested => Err(AmqpError::Nacked),
        }
    }
}

/// The connection state: the live connection, if any, and the reconnection backoff.
#[derive(Debug, Default)]
pub(crate) struct Connector {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    live: Option<Arc<Live>>,
    failures: u32,
    next_attempt: Option<Instant>,
}

impl Connector {
    /// The live connection, connecting (and declaring the topology) when there is none.
    ///
    /// After a failed attempt the next one waits `reconnect_min`, doubling per failure
    /// up to `reconnect_max`; calls in between fail at once.
    pub(crate) async fn live(
        &self,
        config: &AmqpQueueConfig,
        names: &Names,
    ) -> Result<Arc<Live>, AmqpError> {
        let mut state = self.state.lock().await;
        if let Some(live) = &state.live {
            if live.usable() {
                return Ok(Arc::clone(live));
            }
            state.live = None;
        }
        let now = Instant::now();
        if let Some(at) = state.next_attempt
            && now < at
        {
            return Err(AmqpError::Disconnected(format!(
                "the last connection attempt failed; the next is in {:?}",
                at - now
            )));
        }
        let attempt = tokio::time::timeout(config.timeout, connect(config, names)).await;
        let result = match attempt {
            Ok(result) => result,
            Err(_) => Err(AmqpError::Elapsed {
                operation: "connect",
                after: config.timeout,
            }),
        };
        match result {
            Ok(live) => {
                if state.failures > 0 {
                    tracing::info!(failures = state.failures, "reconnected to RabbitMQ");
                }
                state.failures = 0;
                state.next_attempt = None;
                state.live = Some(Arc::clone(&live));
                Ok(live)
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                let exponent = state.failures.saturating_sub(1).min(16);
                let backoff = config
                    .reconnect_min
                    .saturating_mul(1 << exponent)
                    .min(config.reconnect_max);
                state.next_attempt = Some(Instant::now() + backoff);
                tracing::warn!(
                    error.message = %error,
                    failures = state.failures,
                    retry_in = ?backoff,
                    "cannot connect to RabbitMQ"
                );
                Err(error)
            }
        }
    }

    /// Closes the live connection, if any; the next call connects again.
    pub(crate) async fn close(&self) {
        let live = self.state.lock().await.live.take();
        if let Some(live) = live {
            live.mark_broken();
            let _ = live.connection.close(200, "closed by seam".into()).await;
        }
    }
}

async fn connect(config: &AmqpQueueConfig, names: &Names) -> Result<Arc<Live>, AmqpError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(LongString::from(format!("seam:{}", names.exchange)));
    let connection = Connection::connect(config.url.expose_secret(), properties).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    declare_topology(&publisher, config, names).await?;
    Ok(Arc::new(Live {
        connection,
        publisher,
        consumers: Mutex::new(HashMap::new()),
        broken: AtomicBool::new(false),
    }))
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Declares the exchanges and, for every bound queue, the queue, its dead-letter queue
/// and its retry queues, with their bindings. Declarations are idempotent.
async fn declare_topology(
    channel: &Channel,
    config: &AmqpQueueConfig,
    names: &Names,
) -> Result<(), AmqpError> {
    let exchange_options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        (&names.exchange, ExchangeKind::Topic),
        (&names.direct, ExchangeKind::Direct),
        (&names.dlx, ExchangeKind::Direct),
    ] {
        channel
            .exchange_declare(
                name.as_str().into(),
                kind,
                exchange_options,
                FieldTable::default(),
            )
            .await?;
    }
    let queue_type = config.queue_type.as_str();
    let mut declared: Vec<&str> = Vec::new();
    for binding in &config.bindings {
        let queue = binding.queue.as_str();
        if !declared.contains(&queue) {
            declared.push(queue);
            let mut main_args = FieldTable::default();
            main_args.insert("x-queue-type".into(), text(queue_type));
            main_args.insert("x-dead-letter-exchange".into(), text(&names.dlx));
            main_args.insert("x-dead-letter-routing-key".into(), text(queue));
            let main = names.queue(queue);
            channel
                .queue_declare(main.as_str().into(), durable(), main_args)
                .await?;
            bind(channel, &main, &names.direct, queue).await?;

            let mut dlq_args = FieldTable::default();
            dlq_args.insert("x-queue-type".into(), text(queue_type));
            let dlq = names.dlq(queue);
            channel
                .queue_declare(dlq.as_str().into(), durable(), dlq_args)
                .await?;
            bind(channel, &dlq, &names.dlx, queue).await?;

            for tier in names.tiers() {
                let mut retry_args = FieldTable::default();
                retry_args.insert("x-queue-type".into(), text(queue_type));
                retry_args.insert(
                    "x-message-ttl".into(),
                    AMQPValue::LongLongInt(i64::try_from(tier.as_millis()).unwrap_or(i64::MAX)),
                );
                retry_args.insert("x-dead-letter-exchange".into(), text(&names.direct));
                retry_args.insert("x-dead-letter-routing-key".into(), text(queue));
                channel
                    .queue_declare(
                        names.retry_queue(queue, *tier).as_str().into(),
                        durable(),
                        retry_args,
                    )
                    .await?;
            }
        }
        bind(
            channel,
            &names.queue(queue),
            &names.exchange,
            &binding.pattern,
        )
        .await?;
    }
    Ok(())
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    routing_key: &str,
) -> Result<(), AmqpError> {
    channel
        .queue_bind(
            ShortString::from(queue),
            ShortString::from(exchange),
            ShortString::from(routing_key),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_smallest_tier_at_least_the_delay() {
        let names = Names::new(&AmqpQueueConfig {
            queue_prefix: "t1.".to_owned(),
            ..AmqpQueueConfig::default()
        });
        let s = Duration::from_secs;
        assert_eq!(names.tier_for(Duration::from_millis(1)), s(1));
        assert_eq!(names.tier_for(s(1)), s(1));
        assert_eq!(names.tier_for(Duration::from_millis(1001)), s(10));
        assert_eq!(names.tier_for(s(60)), s(60));
        assert_eq!(names.tier_for(s(3600)), s(60), "capped at the largest tier");
        assert_eq!(
            names.retry_queue("orders", s(10)),
            "t1.orders.retry.10000ms"
        );
        assert_eq!(names.dlq("orders"), "t1.orders.dlq");
        assert_eq!(names.direct, "seam.events.direct");
    }
}
