//! [`UniquePublisher`] on Redis: one Lua script checks the deduplication key, sets it with
//! its time to live and appends to every routed stream, so a duplicate can never slip
//! between the check and the publish, and a refused publish leaves no key behind.

use std::time::Duration;

use async_trait::async_trait;
use seam_queue::{Envelope, Published, Result, UniquePublisher, route, validate_dedupe_key};

use crate::codec::Record;
use crate::queue::{METRICS, RedisQueue};
use crate::scripts;

impl RedisQueue {
    /// The Redis key remembering deduplication key `dedupe_key`.
    pub fn dedupe_key(&self, dedupe_key: &str) -> String {
        format!("{}:dedupe:{dedupe_key}", self.key_prefix())
    }
}

#[async_trait]
impl UniquePublisher for RedisQueue {
    async fn publish_unique(
        &self,
        dedupe_key: &str,
        ttl: Duration,
        routing_key: &str,
        envelope: &Envelope,
    ) -> Result<Published> {
        METRICS
            .call("publish_unique", async {
                validate_dedupe_key(dedupe_key, ttl)?;
                envelope.validate()?;
                let queues = route(self.bindings(), routing_key)?;
                let data = Record::new(envelope.clone()).encode();
                let mut invocation = scripts::PUBLISH_UNIQUE.prepare_invoke();
                invocation.key(self.dedupe_key(dedupe_key));
                for queue in queues {
                    invocation.key(self.stream_key(queue));
                }
                let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
                invocation.arg(ttl_ms).arg(self.max_len()).arg(data);
                let mut connection = self.connection();
                let written: u64 = self
                    .call(invocation.invoke_async::<u64>(&mut connection))
                    .await?;
                Ok(if written == 1 {
                    Published::New
                } else {
                    Published::Duplicate
                })
            })
            .await
    }
}
