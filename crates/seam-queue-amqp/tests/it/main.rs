//! The RabbitMQ adapter against a real RabbitMQ on loopback.
//!
//! Every test declares its own exchange and queues (unique names) and deletes them at
//! the end, so tests run in parallel and repeatedly.

mod broker;
mod conformance;
