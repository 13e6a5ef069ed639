//! Integration tests of the sandbox provider: the conformance suite, the magic values,
//! the events it sends, and the breaker and retries seen working through it.

mod conformance;
mod events;
mod http_sink;
mod magic;
