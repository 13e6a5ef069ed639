//! The queue port's conformance suite, on classic and on quorum queues.

use std::time::Duration;

use seam_queue::conformance::{self, Timing};
use seam_queue_amqp::QueueType;

use crate::broker::TestBroker;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_queues_pass_the_conformance_suite() {
    let timing = Timing::real(Duration::from_secs(1));
    let broker = TestBroker::new(conformance::bindings(), |config| {
        config.visibility_timeout = timing.visibility_timeout;
    })
    .await;
    conformance::run_all(&broker.queue, &timing).await;
    broker.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_queues_pass_the_conformance_suite() {
    let timing = Timing::real(Duration::from_secs(1));
    let broker = TestBroker::new(conformance::bindings(), |config| {
        config.visibility_timeout = timing.visibility_timeout;
        config.queue_type = QueueType::Quorum;
    })
    .await;
    conformance::run_all(&broker.queue, &timing).await;
    broker.cleanup().await;
}
