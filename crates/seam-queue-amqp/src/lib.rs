//! The RabbitMQ (AMQP 0-9-1) adapter of the [queue port](seam_queue), over `lapin`.
//!
//! [`AmqpQueueConfig::build`] makes an [`AmqpQueue`], which implements
//! [`Publisher`](seam_queue::Publisher), [`Consumer`](seam_queue::Consumer),
//! [`DeadLetters`](seam_queue::DeadLetters) and [`HealthCheck`](seam_core::HealthCheck).
//!
//! Topology, per queue `q` of the bindings (names behind `queue_prefix`):
//!
//! | broker object | what it is for |
//! |---|---|
//! | `<exchange>` (topic) | publishing; each binding binds `q` to its pattern |
//! | `q` | the queue: durable, classic or quorum, dead-lettering to `<exchange>.dlx` |
//! | `<exchange>.direct` (direct) | putting a message on one queue (`q` bound as `q`): retries, replays, redeliveries |
//! | `q.retry.<ms>ms` | one per retry tier: a TTL queue dead-lettering back through `<exchange>.direct` |
//! | `<exchange>.dlx` (direct) → `q.dlq` | the dead letters |
//!
//! Messages are persistent JSON envelopes; the delivery count, failure reason and
//! times travel in `x-seam-*` headers.

mod codec;
mod config;
mod connection;
mod error;
mod queue;

pub use config::{AmqpQueueConfig, QueueType};
pub use queue::AmqpQueue;
