//! Benchmark 3: relay lag, from the commit of an order with its outbox row to the
//! broker's publish confirm of that row's message.
//!
//! `seam_orders::OutboxRelay` runs over the Postgres repositories as the services
//! build them (`seam_wiring::Adapters`; woken by LISTEN/NOTIFY) and the AMQP publisher, wrapped to note when each confirm arrived.
//! Orders are committed one at a time at a steady rate through the repository's unit
//! of work, as `OrderService::place_order` does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use chrono::Utc;
use seam_domain::{Currency, Money, Order, OrderId, OrderLine, Quantity, Sku, UserId};
use seam_orders::{ORDER_CREATED, OrderCreated, OutboxRelay, RelayConfig};
use seam_queue::{Envelope, Publisher};
use seam_queue_amqp::AmqpQueue;
use seam_repository::{OutboxMessage, RepositoryPorts};
use seam_sql::{DEMO_CUSTOMER_ID, DEMO_PRODUCTS};
use seam_wiring::{DatabaseBackend, EmailBackend, QueueBackend, Settings};
use tokio_util::sync::CancellationToken;

use crate::database::BenchDatabase;
use crate::stats::{Latencies, Verdict, mark, ms};

/// Orders measured.
const ORDERS_FULL: usize = 1_000;
/// Orders before measuring.
const WARM_UP_FULL: usize = 100;
/// Orders committed per second.
const RATE: u64 = 200;
/// The target for the 99th percentile.
const TARGET_P99: Duration = Duration::from_millis(100);
/// The longest wait for the last confirms.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

type Instants = Arc<Mutex<HashMap<uuid::Uuid, Instant>>>;

/// The AMQP publisher, noting when each message's confirm arrived.
#[derive(Debug)]
struct Timed {
    inner: AmqpQueue,
    confirmed: Instants,
}

#[async_trait]
impl Publisher for Timed {
    async fn publish(&self, routing_key: &str, envelope: &Envelope) -> seam_queue::Result<()> {
        self.inner.publish(routing_key, envelope).await?;
        let now = Instant::now();
        self.confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(envelope.message_id, now);
        Ok(())
    }
}

/// Runs the benchmark on a fresh database and unique broker names, both removed
/// afterwards.
pub(crate) async fn run() -> anyhow::Result<Verdict> {
    let database = BenchDatabase::create().await?;
    let queue = crate::worker::unique_config(seam_orders::bindings())
        .build()
        .context("configuring the AMQP adapter")?;
    let result = match queue.connect().await {
        Ok(()) => measure(&database, &queue).await,
        Err(error) => Err(anyhow::Error::from(error).context("connecting to RabbitMQ")),
    };
    if let Err(error) = queue.delete_topology().await {
        eprintln!("warning: could not delete the benchmark's exchanges and queues: {error}");
    }
    queue.close().await;
    database.drop().await;
    result
}

async fn measure(database: &BenchDatabase, queue: &AmqpQueue) -> anyhow::Result<Verdict> {
    println!(
        "== 3. Relay lag (commit -> publish confirm): {orders} orders at {RATE}/s, after {warm_up} warm-up",
        orders = orders(),
        warm_up = warm_up()
    );
    // The repositories as the services build them; the queue and e-mail adapters of
    // these settings are not used (the relay publishes to `queue` below).
    let mut settings = Settings::default();
    settings.database.backend = DatabaseBackend::Postgres;
    settings.database.url = Some(database.url().into());
    settings.queue.backend = QueueBackend::Memory;
    settings.email.backend = EmailBackend::Memory;
    let ports = seam_wiring::Adapters::build(&settings, &database.database)
        .await
        .context("building the Postgres repositories")?
        .repositories;
    let confirmed: Instants = Arc::default();
    let publisher = Arc::new(Timed {
        inner: queue.clone(),
        confirmed: Arc::clone(&confirmed),
    });
    let relay = OutboxRelay::new(ports.outbox.clone(), publisher, RelayConfig::default());
    let cancel = CancellationToken::new();
    let relaying = tokio::spawn(relay.run(cancel.clone()));

    let result = async {
        let warmed = commit_orders(&ports, warm_up()).await?;
        wait_for(&confirmed, &warmed).await?;
        let committed = commit_orders(&ports, orders()).await?;
        wait_for(&confirmed, &committed).await?;
        let confirmed = confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let lags: Vec<Duration> = committed
            .iter()
            .map(|(id, at)| confirmed[id].saturating_duration_since(*at))
            .collect();
        anyhow::Ok(Latencies::new(lags))
    }
    .await;
    cancel.cancel();
    let _ = relaying.await;
    let lags = result?;

    let (p50, p99) = (lags.percentile(50.0), lags.percentile(99.0));
    let met = p99 < TARGET_P99;
    println!(
        "   OutboxRelay (LISTEN/NOTIFY, AMQP confirms)   p50 {:>9}   p99 {:>9}   max {:>9}   ({} orders)",
        ms(p50),
        ms(p99),
        ms(lags.max()),
        lags.len()
    );
    println!("   p99 target < {}: {}", ms(TARGET_P99), mark(met));
    Ok(Verdict {
        name: "relay lag",
        figure: format!(
            "p50 {} p99 {} (target p99 < {})",
            ms(p50),
            ms(p99),
            ms(TARGET_P99)
        ),
        met,
    })
}

/// Commits `count` orders, each with its `order.created` outbox row, at [`RATE`] per
/// second; returns each outbox message id with the instant its commit returned.
async fn commit_orders(
    ports: &RepositoryPorts,
    count: usize,
) -> anyhow::Result<Vec<(uuid::Uuid, Instant)>> {
    let customer = UserId::from(DEMO_CUSTOMER_ID);
    let currency = Currency::parse("EUR")?;
    let product = &DEMO_PRODUCTS[0];
    let line = OrderLine {
        sku: Sku::parse(product.sku)?,
        quantity: Quantity::new(1)?,
        unit_price: Money::new(product.price_minor, currency),
    };
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut committed = Vec::with_capacity(count);
    for _ in 0..count {
        ticks.tick().await;
        let order = Order::place(
            OrderId::new(),
            customer,
            currency,
            vec![line.clone()],
            Utc::now(),
        )?;
        let payload = serde_json::to_value(OrderCreated {
            order_id: order.id,
            customer_id: order.customer_id,
        })?;
        let message = OutboxMessage::new(ORDER_CREATED, ORDER_CREATED, payload);
        let id = message.id;
        let mut tx = ports.unit_of_work.begin().await?;
        tx.insert_order(&order).await?;
        tx.add_outbox(message).await?;
        tx.commit().await?;
        committed.push((id, Instant::now()));
    }
    Ok(committed)
}

/// Waits until every message of `committed` was confirmed (bounded).
async fn wait_for(confirmed: &Instants, committed: &[(uuid::Uuid, Instant)]) -> anyhow::Result<()> {
    let deadline = Instant::now() + DRAIN_LIMIT;
    loop {
        let missing = {
            let confirmed = confirmed
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            committed
                .iter()
                .filter(|(id, _)| !confirmed.contains_key(id))
                .count()
        };
        if missing == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "{missing} of {} outbox rows were not confirmed within {DRAIN_LIMIT:?}",
                committed.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn orders() -> usize {
    crate::stats::scaled(ORDERS_FULL)
}

fn warm_up() -> usize {
    crate::stats::scaled(WARM_UP_FULL)
}
