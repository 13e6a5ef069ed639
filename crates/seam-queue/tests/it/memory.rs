//! Each check on a fresh broker, and the whole suite on one.

use std::time::Duration;

use seam_core::ManualClock;
use seam_queue::conformance::{self, Timing};
use seam_queue::{MemoryQueue, MemoryQueueConfig};

fn manual(timing: &Timing) -> (MemoryQueue, ManualClock) {
    let clock = ManualClock::new();
    let queue = MemoryQueue::with_clock(
        MemoryQueueConfig {
            bindings: conformance::bindings(),
            visibility_timeout: timing.visibility_timeout,
        },
        clock.shared(),
    )
    .expect("valid config");
    (queue, clock)
}

macro_rules! on_manual_clock {
    ($($check:ident),+ $(,)?) => {$(
        #[tokio::test]
        async fn $check() {
            let timing = Timing::instant();
            let (queue, _clock) = manual(&timing);
            conformance::$check(&queue, &timing).await;
        }
    )+};
}

on_manual_clock!(
    publish_receive_ack,
    unroutable_and_invalid_publishes_fail,
    fan_out_to_every_bound_queue,
    unsettled_delivery_is_redelivered_after_visibility_timeout,
    delayed_retry_is_invisible_until_due,
    dead_letter_keeps_reason_and_replays_once,
    replay_all_and_purge,
    concurrent_consumers_lose_nothing_and_ack_once,
);

#[tokio::test]
async fn run_all_on_a_manual_clock_never_sleeps() {
    let timing = Timing::instant();
    let (queue, clock) = manual(&timing);
    conformance::run_all(&queue, &timing).await;
    // The timeouts passed on the manual clock, not in real time.
    assert!(clock.elapsed() >= timing.visibility_timeout + timing.retry_delay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_on_the_system_clock() {
    let timing = Timing::real(Duration::from_millis(500));
    let queue = MemoryQueue::new(MemoryQueueConfig {
        bindings: conformance::bindings(),
        visibility_timeout: timing.visibility_timeout,
    })
    .expect("valid config");
    conformance::run_all(&queue, &timing).await;
}

mod unique {
    use std::time::Duration;

    use seam_core::ManualClock;
    use seam_queue::conformance::{self, Timing};
    use seam_queue::{
        Envelope, MemoryQueue, MemoryQueueConfig, MemoryUniquePublisher, Published,
        UniquePublisher, unique_conformance,
    };

    #[tokio::test]
    async fn memory_unique_publisher_passes_the_unique_case() {
        let timing = Timing::instant();
        let clock = ManualClock::new();
        let queue = MemoryQueue::with_clock(
            MemoryQueueConfig::new(conformance::bindings()),
            clock.shared(),
        )
        .unwrap();
        let publisher = MemoryUniquePublisher::with_clock(queue.clone(), clock.shared());
        unique_conformance::run_unique(&publisher, &queue, &timing).await;
    }

    #[tokio::test]
    async fn a_key_is_new_again_once_its_ttl_has_passed() {
        let clock = ManualClock::new();
        let queue = MemoryQueue::with_clock(
            MemoryQueueConfig::new(conformance::bindings()),
            clock.shared(),
        )
        .unwrap();
        let publisher = MemoryUniquePublisher::with_clock(queue.clone(), clock.shared());
        let envelope = Envelope::new("basic.unique", serde_json::json!({}));
        let ttl = Duration::from_secs(60);
        let publish = || publisher.publish_unique("k", ttl, "basic.unique", &envelope);
        assert_eq!(publish().await.unwrap(), Published::New);
        clock.advance(Duration::from_secs(59));
        assert_eq!(publish().await.unwrap(), Published::Duplicate);
        clock.advance(Duration::from_secs(2));
        assert_eq!(publish().await.unwrap(), Published::New);
        assert_eq!(queue.len("conformance.basic"), 2);
    }
}
