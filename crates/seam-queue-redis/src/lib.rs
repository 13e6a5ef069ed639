//! The Redis Streams adapter of the queue port.
//!
//! Each bound queue is a stream `{prefix}:{queue}:stream` read through one consumer group
//! (`group`, `seam` by default), so any number of worker processes share the work:
//!
//! - **publish**: one Lua script routes the envelope to every bound queue and `XADD`s it
//!   with `MAXLEN ~ max_len`. The script refuses (a retryable `Unavailable`) when a stream
//!   already holds `max_len` messages, so the trimming that caps memory never removes a
//!   message that was accepted and not yet settled. After `Ok`, the message is in Redis;
//!   how durable that is depends on the server's persistence (`appendonly yes` with
//!   `appendfsync everysec` or `always` in production).
//! - **receive**: first moves retries whose delay has passed from `{queue}:delayed` (a
//!   sorted set scored by due time) back into the stream, then reclaims, with
//!   `XPENDING IDLE` and `XCLAIM`, one delivery whose consumer has held it longer than
//!   the visibility timeout (it crashed or dropped it), then reads new messages with
//!   `XREADGROUP ... BLOCK` on a connection of its own, so blocking never stalls other calls.
//! - **settle**: `ack`, `retry` and `dead_letter` are Lua scripts that first check, with
//!   `XPENDING`, that this delivery still owns the entry (same consumer, same delivery
//!   count): a delivery whose lease expired and was reclaimed gets
//!   [`Error::LeaseExpired`](seam_queue::Error::LeaseExpired), exactly like the other
//!   adapters. They then `XACK` + `XDEL` and, for a retry, add the message to the delayed
//!   set; for a dead letter, append it to `{queue}:dlq` and index it by id.
//!
//! - **publish_unique** ([`UniquePublisher`](seam_queue::UniquePublisher)): one script
//!   checks `{prefix}:dedupe:{key}`, refuses at the cap like `publish`, then sets the key
//!   (`SET NX PX ttl`) and `XADD`s to every routed stream: check and publish are atomic.
//!
//! Redis Cluster is not supported: the publish script touches the streams of several
//! queues. Use a single primary (with replicas or Sentinel).

mod codec;
mod config;
mod error;
mod queue;
mod scripts;
mod unique;

pub use config::RedisQueueConfig;
pub use queue::RedisQueue;
