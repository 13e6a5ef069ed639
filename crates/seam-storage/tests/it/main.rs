//! The storage port's integration tests: the conformance suite on the in-memory adapter
//! and on every decorator, and the decorators' own behaviour.

mod memory;
mod metered;
mod mirror;
mod support;
mod tenant;
