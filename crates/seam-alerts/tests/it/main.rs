//! The in-memory and log adapters against the conformance suite, and breaker alerts
//! with a real circuit breaker.

mod breaker;
mod condition;
mod conformance;
