//! A queue on its own key prefix, removed afterwards.

use std::time::Duration;

use seam_queue::QueueBinding;
use seam_queue_redis::{RedisQueue, RedisQueueConfig};
use uuid::Uuid;

/// A queue whose keys live under a fresh prefix.
pub(crate) struct TestQueue {
    pub(crate) queue: RedisQueue,
    pub(crate) config: RedisQueueConfig,
}

impl TestQueue {
    /// Connects to the test Redis (failing with instructions when it is not running).
    pub(crate) async fn new(
        bindings: Vec<QueueBinding>,
        adjust: impl FnOnce(&mut RedisQueueConfig),
    ) -> Self {
        let url = seam_testkit::require_redis();
        let mut config = RedisQueueConfig {
            url: url.into(),
            key_prefix: format!("seam-test:{}", Uuid::now_v7().simple()),
            bindings,
            visibility_timeout: Duration::from_secs(1),
            poll_interval: Duration::from_millis(50),
            ..RedisQueueConfig::default()
        };
        adjust(&mut config);
        let queue = config.clone().connect().await.expect("connect to Redis");
        Self { queue, config }
    }

    /// Another process's view of the same queues (same prefix and group, its own consumer).
    pub(crate) async fn second_consumer(&self) -> RedisQueue {
        self.config
            .clone()
            .connect()
            .await
            .expect("connect to Redis")
    }

    /// A raw connection, for what the port does not expose.
    pub(crate) async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(seam_testkit::redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Deletes every key of this queue.
    pub(crate) async fn cleanup(self) {
        let mut connection = self.raw().await;
        let keys = self.queue.keys();
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
}
