//! The conformance suite every queue adapter runs: the `MUST` lines of [`Publisher`],
//! [`Consumer`] and [`DeadLetters`], checked the same way on every backend.
//!
//! The adapter under test must be configured with [`bindings`] and with the visibility
//! timeout given in [`Timing`]. Each check uses its own queues and leaves them empty, so
//! [`run_all`] can run them one after another on one adapter.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use seam_core::ManualClock;
//! use seam_queue::conformance::{self, Timing};
//! use seam_queue::{MemoryQueue, MemoryQueueConfig};
//!
//! let timing = Timing::instant();
//! let clock = ManualClock::new();
//! let queue = MemoryQueue::with_clock(
//!     MemoryQueueConfig { bindings: conformance::bindings(), visibility_timeout: timing.visibility_timeout },
//!     clock.shared(),
//! ).unwrap();
//! conformance::run_all(&queue, &timing).await;
//! # }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use seam_core::{Classify, ErrorKind};
use uuid::Uuid;

use crate::{Consumer, DeadLetters, Delivery, Envelope, Error, Publisher, Queue, QueueBinding};

/// The timing of the adapter under test, and how long the suite waits for things that
/// take time.
///
/// Every wait in the suite is a [`Consumer::receive`] with a `wait`: an adapter on a
/// [`ManualClock`](seam_core::ManualClock) moves the clock while waiting and returns at
/// once, a real adapter waits for real (bounded by these durations).
#[derive(Debug, Clone)]
pub struct Timing {
    /// The visibility timeout the adapter was configured with.
    pub visibility_timeout: Duration,
    /// The delay the suite asks for in [`Delivery::retry`]; a receive right after the retry
    /// must not see the message. Keep it well above the adapter's polling interval.
    pub retry_delay: Duration,
    /// Added to every wait for a message that is due (covers polling and scheduling).
    pub margin: Duration,
    /// How long concurrent consumers wait in each `receive`.
    pub poll: Duration,
}

impl Timing {
    /// For an adapter on a manual clock: long timeouts that pass instantly.
    pub fn instant() -> Self {
        Self {
            visibility_timeout: Duration::from_secs(30),
            retry_delay: Duration::from_secs(60),
            margin: Duration::from_secs(1),
            poll: Duration::from_millis(100),
        }
    }

    /// For an adapter on real time: a visibility timeout of `visibility_timeout` (1–2 s is
    /// plenty), retries delayed by as long (at least 1 s), 2 s of margin.
    pub fn real(visibility_timeout: Duration) -> Self {
        Self {
            visibility_timeout,
            retry_delay: visibility_timeout.max(Duration::from_secs(1)),
            margin: Duration::from_secs(2),
            poll: Duration::from_millis(100),
        }
    }
}

const BASIC: &str = "conformance.basic";
const FANOUT_A: &str = "conformance.fanout.a";
const FANOUT_B: &str = "conformance.fanout.b";
const REDELIVER: &str = "conformance.redeliver";
const RETRY: &str = "conformance.retry";
const DEAD: &str = "conformance.dead";
const PURGE: &str = "conformance.purge";
const CONCURRENT: &str = "conformance.concurrent";

/// The bindings the adapter under test must be configured with.
pub fn bindings() -> Vec<QueueBinding> {
    vec![
        QueueBinding::new(BASIC, "basic.#"),
        QueueBinding::new(FANOUT_A, "fanout.*"),
        QueueBinding::new(FANOUT_B, "fanout.#"),
        QueueBinding::new(REDELIVER, "redeliver.*"),
        QueueBinding::new(RETRY, "retry.*"),
        QueueBinding::new(DEAD, "dead.*"),
        QueueBinding::new(PURGE, "purge.*"),
        QueueBinding::new(CONCURRENT, "concurrent.*"),
    ]
}

/// Runs every check, one after the other.
pub async fn run_all(queue: &dyn Queue, timing: &Timing) {
    publish_receive_ack(queue, timing).await;
    unroutable_and_invalid_publishes_fail(queue, timing).await;
    fan_out_to_every_bound_queue(queue, timing).await;
    unsettled_delivery_is_redelivered_after_visibility_timeout(queue, timing).await;
    delayed_retry_is_invisible_until_due(queue, timing).await;
    dead_letter_keeps_reason_and_replays_once(queue, timing).await;
    replay_all_and_purge(queue, timing).await;
    concurrent_consumers_lose_nothing_and_ack_once(queue, timing).await;
}

fn message(kind: &str, n: u32) -> Envelope {
    Envelope::new(
        kind,
        serde_json::json!({ "n": n, "text": "grüße, \"quoted\"" }),
    )
}

async fn publish(queue: &dyn Queue, key: &str, envelope: &Envelope) {
    Publisher::publish(queue, key, envelope)
        .await
        .unwrap_or_else(|error| panic!("publish to {key:?} failed: {error}"));
}

async fn receive(queue: &dyn Queue, name: &str, wait: Duration) -> Option<Delivery> {
    Consumer::receive(queue, name, wait)
        .await
        .unwrap_or_else(|error| panic!("receive from {name} failed: {error}"))
}

async fn expect_one(queue: &dyn Queue, name: &str, wait: Duration) -> Delivery {
    receive(queue, name, wait)
        .await
        .unwrap_or_else(|| panic!("expected a message on {name} within {wait:?}, got none"))
}

async fn expect_none(queue: &dyn Queue, name: &str) {
    if let Some(delivery) = receive(queue, name, Duration::ZERO).await {
        panic!("expected {name} to have nothing available, got {delivery:?}");
    }
}

/// A published message is received intact once and, acked, is gone; an undeclared queue
/// is `NotFound`.
pub async fn publish_receive_ack(queue: &dyn Queue, timing: &Timing) {
    let cause = message("order.placed", 0);
    let sent = message("order.paid", 1)
        .caused_by(&cause)
        .with_schema_version(3)
        .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    publish(queue, "basic.order.paid", &sent).await;

    let delivery = expect_one(queue, BASIC, timing.margin).await;
    assert_eq!(
        delivery.envelope(),
        &sent,
        "the envelope must arrive unchanged"
    );
    assert_eq!(delivery.queue(), BASIC);
    assert_eq!(delivery.deliveries(), 1, "first delivery");
    assert!(!delivery.is_redelivery());
    expect_none(queue, BASIC).await;
    delivery.ack().await.expect("ack");
    expect_none(queue, BASIC).await;

    let error = Consumer::receive(queue, "conformance.no-such-queue", Duration::ZERO)
        .await
        .expect_err("receive from an undeclared queue");
    assert!(matches!(error, Error::NotFound { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

/// `Unroutable` when no queue is bound; `Invalid` for a bad key or envelope; nothing published.
pub async fn unroutable_and_invalid_publishes_fail(queue: &dyn Queue, _timing: &Timing) {
    let envelope = message("nobody.cares", 1);
    let error = Publisher::publish(queue, "nobody.home", &envelope)
        .await
        .expect_err("publishing to an unbound routing key must fail");
    assert!(
        matches!(&error, Error::Unroutable { routing_key } if routing_key == "nobody.home"),
        "{error:?}"
    );
    assert_eq!(error.kind(), ErrorKind::Invalid);

    for key in ["", "basic.*", "basic.#"] {
        let error = Publisher::publish(queue, key, &envelope)
            .await
            .expect_err("a malformed routing key must be refused");
        assert!(matches!(error, Error::Invalid { .. }), "{key:?}: {error:?}");
    }
    let blank = Envelope::new(" ", serde_json::Value::Null);
    let error = Publisher::publish(queue, "basic.x", &blank)
        .await
        .expect_err("a blank message type must be refused");
    assert!(matches!(error, Error::Invalid { .. }), "{error:?}");
    expect_none(queue, BASIC).await;
}

/// A key matching several bindings puts one copy on each queue.
pub async fn fan_out_to_every_bound_queue(queue: &dyn Queue, timing: &Timing) {
    let sent = message("fanned", 1);
    publish(queue, "fanout.x", &sent).await;
    for name in [FANOUT_A, FANOUT_B] {
        let delivery = expect_one(queue, name, timing.margin).await;
        assert_eq!(delivery.envelope().message_id, sent.message_id);
        delivery.ack().await.expect("ack");
        expect_none(queue, name).await;
    }
    // `fanout.#` also matches a key `fanout.*` does not.
    publish(queue, "fanout.x.y", &message("deep", 2)).await;
    expect_one(queue, FANOUT_B, timing.margin)
        .await
        .ack()
        .await
        .expect("ack");
    expect_none(queue, FANOUT_A).await;
}

/// A delivery neither acked nor settled is delivered again after the visibility timeout,
/// not before; the stale delivery can no longer be settled.
pub async fn unsettled_delivery_is_redelivered_after_visibility_timeout(
    queue: &dyn Queue,
    timing: &Timing,
) {
    let sent = message("redelivered", 1);
    publish(queue, "redeliver.x", &sent).await;
    // The consumer "crashes": it holds the delivery and never settles it.
    let stale = expect_one(queue, REDELIVER, timing.margin).await;
    expect_none(queue, REDELIVER).await;

    let again = expect_one(queue, REDELIVER, timing.visibility_timeout + timing.margin).await;
    assert_eq!(again.envelope().message_id, sent.message_id);
    assert_eq!(again.deliveries(), 2, "second delivery");
    assert!(again.is_redelivery());
    assert_eq!(again.envelope().attempt, 0, "a redelivery is not a retry");

    let error = stale
        .ack()
        .await
        .expect_err("a delivery whose lease expired and was redelivered cannot be acked");
    assert!(matches!(error, Error::LeaseExpired { .. }), "{error:?}");
    again.ack().await.expect("the current delivery acks");
    expect_none(queue, REDELIVER).await;
}

/// A retried message is invisible until its delay has passed, then comes back with its
/// attempt increased.
pub async fn delayed_retry_is_invisible_until_due(queue: &dyn Queue, timing: &Timing) {
    let sent = message("retried", 1);
    publish(queue, "retry.x", &sent).await;
    let first = expect_one(queue, RETRY, timing.margin).await;
    first
        .retry(timing.retry_delay, "downstream timed out")
        .await
        .expect("retry");
    expect_none(queue, RETRY).await;

    let second = expect_one(queue, RETRY, timing.retry_delay + timing.margin).await;
    assert_eq!(second.envelope().message_id, sent.message_id);
    assert_eq!(second.envelope().attempt, 1, "attempt + 1 after a retry");
    assert_eq!(second.deliveries(), 2);
    second.ack().await.expect("ack");
    expect_none(queue, RETRY).await;
}

/// Dead-lettering keeps the reason, the deliveries and the failure times; a replay puts
/// the message back exactly once, with its attempt reset.
pub async fn dead_letter_keeps_reason_and_replays_once(queue: &dyn Queue, timing: &Timing) {
    let sent = message("poison", 1);
    publish(queue, "dead.x", &sent).await;
    expect_one(queue, DEAD, timing.margin)
        .await
        .retry(Duration::ZERO, "first failure")
        .await
        .expect("retry");
    let second = expect_one(queue, DEAD, timing.margin).await;
    assert_eq!(second.envelope().attempt, 1);
    second
        .dead_letter("cannot decode: missing field `order`")
        .await
        .expect("dead-letter");
    expect_none(queue, DEAD).await;

    let listed = DeadLetters::list(queue, DEAD, 10).await.expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let dead = &listed[0];
    assert_eq!(dead.queue, DEAD);
    assert_eq!(dead.envelope.message_id, sent.message_id);
    assert_eq!(dead.envelope.payload, sent.payload);
    assert_eq!(dead.reason, "cannot decode: missing field `order`");
    assert_eq!(dead.attempts, 2, "delivered twice before it was given up");
    assert!(dead.first_failed_at <= dead.last_failed_at, "{dead:?}");
    assert!(dead.last_failed_at <= dead.dead_lettered_at, "{dead:?}");
    assert_eq!(&DeadLetters::get(queue, dead.id).await.expect("get"), dead);
    let missing = DeadLetters::get(queue, Uuid::now_v7())
        .await
        .expect_err("an unknown dead letter");
    assert!(matches!(missing, Error::NotFound { .. }), "{missing:?}");
    assert!(
        DeadLetters::list(queue, BASIC, 10)
            .await
            .expect("list")
            .is_empty(),
        "dead letters are per queue"
    );

    DeadLetters::replay(queue, dead.id).await.expect("replay");
    let twice = DeadLetters::replay(queue, dead.id)
        .await
        .expect_err("a dead letter replays only once");
    assert!(matches!(twice, Error::NotFound { .. }), "{twice:?}");
    assert!(
        DeadLetters::list(queue, DEAD, 10)
            .await
            .expect("list")
            .is_empty()
    );

    let replayed = expect_one(queue, DEAD, timing.margin).await;
    assert_eq!(replayed.envelope().message_id, sent.message_id);
    assert_eq!(replayed.envelope().attempt, 0, "attempt reset by replay");
    assert_eq!(replayed.deliveries(), 1);
    replayed.ack().await.expect("ack");
    expect_none(queue, DEAD).await;
}

/// `list` honours its limit, `replay_all` and `purge` count what they moved or deleted.
pub async fn replay_all_and_purge(queue: &dyn Queue, timing: &Timing) {
    async fn dead_letter_all(queue: &dyn Queue, timing: &Timing) {
        for _ in 0..3 {
            expect_one(queue, PURGE, timing.margin)
                .await
                .dead_letter("rejected")
                .await
                .expect("dead-letter");
        }
        expect_none(queue, PURGE).await;
    }

    for n in 0..3 {
        publish(queue, "purge.x", &message("purged", n)).await;
    }
    dead_letter_all(queue, timing).await;
    assert_eq!(
        DeadLetters::list(queue, PURGE, 2)
            .await
            .expect("list")
            .len(),
        2
    );
    assert_eq!(
        DeadLetters::replay_all(queue, PURGE)
            .await
            .expect("replay_all"),
        3
    );
    assert!(
        DeadLetters::list(queue, PURGE, 10)
            .await
            .expect("list")
            .is_empty()
    );

    dead_letter_all(queue, timing).await;
    assert_eq!(DeadLetters::purge(queue, PURGE).await.expect("purge"), 3);
    assert!(
        DeadLetters::list(queue, PURGE, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(DeadLetters::purge(queue, PURGE).await.expect("purge"), 0);
    assert_eq!(
        DeadLetters::replay_all(queue, PURGE)
            .await
            .expect("replay_all"),
        0
    );
    expect_none(queue, PURGE).await;
}

/// N consumers on one queue process M messages: every message is acked, and acked once.
pub async fn concurrent_consumers_lose_nothing_and_ack_once(queue: &dyn Queue, timing: &Timing) {
    const MESSAGES: usize = 24;
    const CONSUMERS: usize = 4;
    let mut sent = Vec::with_capacity(MESSAGES);
    for n in 0..MESSAGES {
        let envelope = message("concurrent", n as u32);
        publish(queue, "concurrent.x", &envelope).await;
        sent.push(envelope.message_id);
    }

    let acks: Mutex<HashMap<Uuid, usize>> = Mutex::new(HashMap::new());
    let acked = AtomicUsize::new(0);
    let consumer = |_: usize| async {
        // Bounded: enough rounds for every message several times over.
        for _ in 0..MESSAGES * 10 {
            if acked.load(Ordering::SeqCst) >= MESSAGES {
                return;
            }
            let Some(delivery) = receive(queue, CONCURRENT, timing.poll).await else {
                continue;
            };
            let id = delivery.envelope().message_id;
            match delivery.ack().await {
                Ok(()) => {
                    *acks
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .entry(id)
                        .or_default() += 1;
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                // Another consumer got it after the lease ran out; that one acks it.
                Err(Error::LeaseExpired { .. }) => {}
                Err(error) => panic!("ack failed: {error}"),
            }
        }
    };
    futures::future::join_all((0..CONSUMERS).map(consumer)).await;

    let acks = acks.into_inner().unwrap_or_else(|p| p.into_inner());
    for id in &sent {
        assert_eq!(
            acks.get(id),
            Some(&1),
            "message {id} must be acked exactly once: {acks:?}"
        );
    }
    assert_eq!(
        acks.len(),
        MESSAGES,
        "only the published messages were acked"
    );
    expect_none(queue, CONCURRENT).await;
}
