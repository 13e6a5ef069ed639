//! The Redis Streams queue against a real Redis on loopback.

mod broker;
mod conformance;
mod streams;
mod unique;
