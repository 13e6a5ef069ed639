//! The port's conformance suite, check by check, on both backends.

use seam_queue::conformance;

use crate::support::TestDb;

macro_rules! conformance_checks {
    ($($check:ident),+ $(,)?) => {
        $(
            async fn $check(test: &TestDb) {
                conformance::$check(&test.queue(), &TestDb::timing()).await;
            }
        )+
        on_both_backends!($($check),+);
    };
}

conformance_checks!(
    publish_receive_ack,
    unroutable_and_invalid_publishes_fail,
    fan_out_to_every_bound_queue,
    unsettled_delivery_is_redelivered_after_visibility_timeout,
    delayed_retry_is_invisible_until_due,
    dead_letter_keeps_reason_and_replays_once,
    replay_all_and_purge,
    concurrent_consumers_lose_nothing_and_ack_once,
);

async fn run_all(test: &TestDb) {
    conformance::run_all(&test.queue(), &TestDb::timing()).await;
}

on_both_backends!(run_all);
