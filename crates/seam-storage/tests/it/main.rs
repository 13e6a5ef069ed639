//! The storage port's integration tests.
