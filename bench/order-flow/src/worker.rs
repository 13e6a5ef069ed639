//! Benchmark 2: the worker's consumer loop on RabbitMQ beside a raw lapin consumer.
//!
//! Both consume the same number of `order.created` envelopes from the same broker
//! queue with the same prefetch. The loop is `seam_orders::ConsumerLoop` over
//! `seam_queue_amqp::AmqpQueue` with the worker's default concurrency and a handler
//! that decodes the event (no database work: that is the repositories', not the
//! loop's, cost); the floor receives each message on one lapin consumer and acks it
//! from a task of its own (acks pipelined, not awaited one by one).
//! Exchange and queues have unique names and are deleted at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use seam_domain::{OrderId, UserId};
use seam_orders::{ConsumerLoop, MessageHandler, ORDER_CREATED, OrderCreated, RetrySchedule};
use seam_queue::{Consumer, Envelope, Publisher, QueueBinding};
use seam_queue_amqp::{AmqpQueue, AmqpQueueConfig};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::stats::{Verdict, mark, rate};

/// Messages measured per consumer.
const MESSAGES_FULL: usize = 20_000;
/// Messages consumed before measuring.
const WARM_UP_FULL: usize = 2_000;
/// The worker's default prefetch (`queue.amqp.prefetch`).
const PREFETCH: u16 = 16;
/// The worker's default concurrency (`worker.concurrency`).
const CONCURRENCY: usize = 4;
/// The port queue name.
const QUEUE: &str = "orders";
/// The target: at least this fraction of the floor's throughput.
const TARGET_RATIO: f64 = 0.7;
/// The longest a run may take before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// `SEAM_BENCH_AMQP_URL`, or the local broker.
pub(crate) fn amqp_url() -> String {
    std::env::var("SEAM_BENCH_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// An adapter config with unique exchange and queue names.
pub(crate) fn unique_config(bindings: Vec<QueueBinding>) -> AmqpQueueConfig {
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let mut config = AmqpQueueConfig::new(amqp_url()).with_bindings(bindings);
    config.exchange = format!("seam.bench.{unique}");
    config.queue_prefix = format!("bench.{unique}.");
    config.prefetch = PREFETCH;
    config
}

/// Runs the benchmark; the topology is deleted afterwards.
pub(crate) async fn run() -> anyhow::Result<Verdict> {
    let config = unique_config(vec![QueueBinding::new(QUEUE, ORDER_CREATED)]);
    let broker_queue = format!("{}{QUEUE}", config.queue_prefix);
    let queue = config.build().context("configuring the AMQP adapter")?;
    queue
        .connect()
        .await
        .context("connecting to RabbitMQ (is it running?)")?;
    let result = measure(&queue, &broker_queue).await;
    if let Err(error) = queue.delete_topology().await {
        eprintln!("warning: could not delete the benchmark's exchanges and queues: {error}");
    }
    queue.close().await;
    result
}

async fn measure(queue: &AmqpQueue, broker_queue: &str) -> anyhow::Result<Verdict> {
    println!(
        "== 2. Worker throughput on RabbitMQ: {messages} order.created messages per consumer, prefetch {PREFETCH}, after {warm_up} warm-up",
        messages = messages(),
        warm_up = warm_up()
    );
    // The consumer loop.
    preload(queue, warm_up()).await?;
    consume_with_loop(queue, warm_up()).await?;
    preload(queue, messages()).await?;
    let seam = consume_with_loop(queue, messages()).await?;
    // Its consumer goes with the connection; the next publish connects again.
    queue.close().await;

    // The floor, on its own connection.
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .context("connecting the raw lapin consumer")?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            broker_queue.into(),
            "seam-bench-floor".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    preload(queue, warm_up()).await?;
    consume_raw(&mut consumer, warm_up()).await?;
    preload(queue, messages()).await?;
    let floor = consume_raw(&mut consumer, messages()).await;
    let _ = connection.close(200, "done".into()).await;
    let floor = floor?;

    let (seam_rate, floor_rate) = (rate(messages(), seam), rate(messages(), floor));
    println!(
        "   ConsumerLoop ({CONCURRENCY} tasks) {seam_rate:>8.0} orders/s   ({messages} in {:.2} s)",
        seam.as_secs_f64(),
        messages = messages()
    );
    println!(
        "   floor (raw lapin)      {floor_rate:>8.0} msgs/s     ({messages} in {:.2} s)",
        floor.as_secs_f64(),
        messages = messages()
    );
    let ratio = seam_rate / floor_rate;
    let met = ratio >= TARGET_RATIO;
    println!(
        "   ratio                  {ratio:.2}x of the floor (target >= {TARGET_RATIO:.1}x): {}",
        mark(met)
    );
    Ok(Verdict {
        name: "worker consumer loop",
        figure: format!(
            "{seam_rate:.0} orders/s vs floor {floor_rate:.0} msgs/s = {ratio:.2}x (target >= {TARGET_RATIO:.1}x)"
        ),
        met,
    })
}

/// Publishes `count` `order.created` envelopes (with confirms, 64 in flight).
async fn preload(queue: &AmqpQueue, count: usize) -> anyhow::Result<()> {
    futures::stream::iter(0..count)
        .map(|_| async move {
            let event = OrderCreated {
                order_id: OrderId::new(),
                customer_id: UserId::new(),
            };
            let envelope = Envelope::new(ORDER_CREATED, serde_json::to_value(event)?);
            queue.publish(ORDER_CREATED, &envelope).await?;
            anyhow::Ok(())
        })
        .buffer_unordered(64)
        .try_collect::<()>()
        .await
        .context("preloading the queue")
}

/// Decodes the event and counts it; wakes the benchmark at the target count.
#[derive(Debug)]
struct Counting {
    handled: AtomicUsize,
    target: usize,
    done: Notify,
}

#[async_trait]
impl MessageHandler for Counting {
    async fn handle(&self, envelope: &Envelope) -> seam_orders::Result<String> {
        let event: OrderCreated = envelope
            .decode()
            .map_err(|error| seam_orders::OrdersError::Undecodable(error.to_string()))?;
        if self.handled.fetch_add(1, Ordering::SeqCst) + 1 == self.target {
            self.done.notify_one();
        }
        Ok(format!("decoded {}", event.order_id))
    }
}

/// Runs the consumer loop until it handled `count` messages; returns the time taken.
async fn consume_with_loop(queue: &AmqpQueue, count: usize) -> anyhow::Result<Duration> {
    let handler = Arc::new(Counting {
        handled: AtomicUsize::new(0),
        target: count,
        done: Notify::new(),
    });
    let consumer: Arc<dyn Consumer> = Arc::new(queue.clone());
    let consumer_loop = Arc::new(ConsumerLoop::new(
        consumer,
        QUEUE,
        handler.clone(),
        RetrySchedule::default(),
    ));
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let running = tokio::spawn(consumer_loop.run(CONCURRENCY, cancel.clone()));
    let finished = tokio::time::timeout(RUN_LIMIT, handler.done.notified()).await;
    let elapsed = started.elapsed();
    cancel.cancel();
    let _ = running.await;
    if finished.is_err() {
        bail!(
            "the consumer loop handled {} of {count} messages in {RUN_LIMIT:?}",
            handler.handled.load(Ordering::SeqCst)
        );
    }
    Ok(elapsed)
}

/// Receives and acks `count` messages; returns the time taken until every ack was
/// handed to the connection.
///
/// Acks are not awaited one by one: each is sent from its own task, as fast as a
/// consumer can go, and all are awaited at the end.
async fn consume_raw(consumer: &mut lapin::Consumer, count: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let consumed = tokio::time::timeout(RUN_LIMIT, async {
        let mut acks = tokio::task::JoinSet::new();
        for _ in 0..count {
            let delivery = consumer
                .next()
                .await
                .context("the broker cancelled the consumer")??;
            acks.spawn(async move { delivery.acker.ack(BasicAckOptions::default()).await });
        }
        while let Some(ack) = acks.join_next().await {
            ack.context("an ack task panicked")??;
        }
        anyhow::Ok(())
    })
    .await;
    let elapsed = started.elapsed();
    match consumed {
        Ok(result) => result.map(|()| elapsed),
        Err(_) => bail!("the raw consumer did not get {count} messages in {RUN_LIMIT:?}"),
    }
}

fn messages() -> usize {
    crate::stats::scaled(MESSAGES_FULL)
}

fn warm_up() -> usize {
    crate::stats::scaled(WARM_UP_FULL)
}
