//! The storage port's integration tests: the conformance suite on the in-memory adapter
//! and on the decorators.

mod memory;
