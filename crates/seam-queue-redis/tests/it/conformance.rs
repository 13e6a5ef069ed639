//! The queue port's conformance suite.

use std::time::Duration;

use seam_queue::conformance::{self, Timing};

use crate::broker::TestQueue;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_streams_pass_the_conformance_suite() {
    let timing = Timing::real(Duration::from_secs(1));
    let test = TestQueue::new(conformance::bindings(), |config| {
        config.visibility_timeout = timing.visibility_timeout;
    })
    .await;
    conformance::run_all(&test.queue, &timing).await;
    test.cleanup().await;
}
